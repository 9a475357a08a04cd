"""Evidence strata: which question each analysed subgroup of a cohort answers.

A cohort's design tag and its manifest (treatment era, trial arms, ``subset_of``) decide the
subgroups that are analysed and the question each one answers. Meta-analysis pools only rows of
one question, one treatment era and one endpoint family, so a trastuzumab-treated cohort is
never pooled with an untreated one.

Questions
---------
``within_trastuzumab``
    Trastuzumab-treated patients: treated cohorts, the trastuzumab arm of a randomised trial,
    the trastuzumab-containing arms of a multi-arm trial (one row per trial, arm as covariate),
    and the treated subset of a mostly untreated cohort. The primary hypothesis is tested here.
``within_untreated_arm``
    The no-trastuzumab arm of a randomised trial.
``trastuzumab_interaction``
    Score × trastuzumab in a randomised trial (both arms): does the association differ by
    treatment? The predictive question.
``treatment_effect``
    Trastuzumab vs not within a subtype of a randomised trial (positive control).
``within_arm``
    One arm of a multi-arm anti-HER2 trial (reported, not pooled).
``arm_interaction``
    Score × (arm X vs the reference arm) in a multi-arm trial (reported, not pooled).
``prognosis``
    Patients without recorded trastuzumab (untreated cohorts, or treatment unrecorded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

from .errors import Her2AtlasError

QUESTIONS = {
    "within_trastuzumab": "within trastuzumab-treated",
    "within_untreated_arm": "no-trastuzumab arm of a randomised trial",
    "trastuzumab_interaction": "score × trastuzumab interaction (randomised)",
    "treatment_effect": "trastuzumab vs not (randomised)",
    "within_arm": "one arm of a multi-arm trial",
    "arm_interaction": "score × arm interaction (multi-arm trial)",
    "prognosis": "prognosis without recorded trastuzumab",
}

ERAS = {
    "trastuzumab": "trastuzumab era",
    "pre_trastuzumab": "pre-trastuzumab era",
    "mixed": "mixed treatment eras",
    "unrecorded": "treatment era unrecorded",
}

TRASTUZUMAB_DESIGNS = ("randomised_trastuzumab", "multi_arm_anti_her2", "trastuzumab_treated")


def era_of(question: str, design: CohortDesign) -> str:
    """The era of a subgroup: trastuzumab-treated patients are of the trastuzumab era by
    definition (the treated subset of a mixed-era cohort pools with other treated cohorts)."""
    return "trastuzumab" if question == "within_trastuzumab" else design.era


def stratum_label(question: str, era: str) -> str:
    """Readable name of an evidence stratum, e.g. ``within trastuzumab-treated · trastuzumab era``."""
    return f"{QUESTIONS.get(question, question)} · {ERAS.get(era, era)}"


@dataclass
class CohortDesign:
    """What the manifest says about a cohort's design, beyond the design tag.

    Parameters
    ----------
    design
        The manifest's design tag.
    era
        Treatment era (``trastuzumab``, ``pre_trastuzumab``, ``mixed``, ``unrecorded``); empty
        means the default for the design.
    reference_arm
        Reference arm of the arm-interaction rows (multi-arm trials).
    trastuzumab_arms
        Arms that contain trastuzumab (multi-arm trials); None = from the ``trastuzumab`` field.
    parent
        A configured cohort this one is a declared subset of: then nothing here is pooled.
    """

    design: str
    era: str = ""
    reference_arm: str | None = None
    trastuzumab_arms: list[str] | None = None
    parent: str | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.era:
            self.era = "trastuzumab" if self.design in TRASTUZUMAB_DESIGNS else "unrecorded"

    @classmethod
    def from_manifest(cls, manifest: dict, configured: list[str] | None = None) -> CohortDesign:
        """Build from a manifest dict; ``configured`` = the run's cohort ids (for ``subset_of``)."""
        arms = manifest.get("arms") or {}
        parent = manifest.get("subset_of")
        return cls(design=manifest["design"], era=manifest.get("treatment_era", ""),
                   reference_arm=arms.get("reference"),
                   trastuzumab_arms=list(arms["trastuzumab"]) if "trastuzumab" in arms else None,
                   parent=parent if parent and parent in (configured or []) else None)


class Subgroup(NamedTuple):
    """An analysed subgroup: its label, question, sample mask and whether it is pooled."""

    label: str
    question: str
    mask: pd.Series
    pooled: bool


def _her2(obs: pd.DataFrame) -> pd.Series:
    if "her2_status" not in obs:
        return pd.Series(False, index=obs.index)
    return obs["her2_status"].astype(object) == "positive"


def _treated(obs: pd.DataFrame) -> pd.Series | None:
    return obs["trastuzumab"].astype("boolean") if "trastuzumab" in obs else None


def _check_declared_arms(obs: pd.DataFrame, design: CohortDesign, arms: list[str]) -> None:
    """Declared arm labels must exist in the data and agree with the ``trastuzumab`` field."""
    declared = list(design.trastuzumab_arms or []) + (
        [design.reference_arm] if design.reference_arm else [])
    unknown = sorted({a for a in declared if a not in arms})
    problems = [f"arm(s) {', '.join(unknown)} not among the data's arms"] if unknown else []
    treated = _treated(obs)
    if design.trastuzumab_arms is not None and treated is not None:
        arm = obs["arm"].astype(object)
        for a in arms:
            values = set(treated[arm == a].dropna().astype(bool))
            says = a in design.trastuzumab_arms
            if values and values != {says}:
                problems.append(f"arm {a} is {'' if says else 'not '}declared to contain "
                                f"trastuzumab but its trastuzumab field says {sorted(values)}")
    if problems:
        raise Her2AtlasError(
            "; ".join(problems) + f" (arms in the data: {', '.join(arms)}; declared: reference "
            f"{design.reference_arm}, trastuzumab {', '.join(design.trastuzumab_arms or [])})",
            field="arms", fix="use the arm labels exactly as the manifest's `arm` field maps them")


def trastuzumab_arms(obs: pd.DataFrame, design: CohortDesign) -> list[str]:
    """Arms of a multi-arm trial that contain trastuzumab (declared, else from the field)."""
    arms = sorted(obs["arm"].dropna().astype(str).unique())
    if design.trastuzumab_arms is not None:
        return [a for a in arms if a in design.trastuzumab_arms]
    treated = _treated(obs)
    if treated is None:
        return []
    arm = obs["arm"].astype(object)
    return [a for a in arms if bool(treated[arm == a].fillna(False).all())]


def reference_arm(obs: pd.DataFrame, design: CohortDesign) -> tuple[str, str]:
    """(reference arm, note): the declared reference, else the first arm alphabetically."""
    arms = sorted(obs["arm"].dropna().astype(str).unique())
    if design.reference_arm in arms:
        return design.reference_arm, ""
    note = ("reference arm not declared in the manifest (arms.reference): the first arm "
            "alphabetically is the reference")
    return arms[0], note


def _multi_arm(obs: pd.DataFrame, design: CohortDesign, her2: pd.Series) -> list[Subgroup]:
    arm = obs["arm"].astype(object)
    groups = [Subgroup(f"HER2+ arm {a}", "within_arm", her2 & (arm == a), False)
              for a in sorted(arm.dropna().astype(str).unique())]
    with_t = trastuzumab_arms(obs, design)
    if with_t:
        groups.append(Subgroup(f"HER2+ trastuzumab arms ({', '.join(with_t)})",
                               "within_trastuzumab", her2 & arm.isin(with_t), True))
    return groups


def subgroups(obs: pd.DataFrame, design: str | CohortDesign) -> list[Subgroup]:
    """The analysed subgroups of a cohort (all HER2-positive), with the question each answers.

    Parameters
    ----------
    obs
        Cohort ``obs`` in the standard vocabulary.
    design
        The design tag, or a :class:`CohortDesign` with the manifest's arms and era.
    """
    design = design if isinstance(design, CohortDesign) else CohortDesign(design)
    her2 = _her2(obs)
    treated = _treated(obs)
    tag = design.design
    if tag == "randomised_trastuzumab" and treated is None:
        raise Her2AtlasError("a randomised_trastuzumab cohort needs the `trastuzumab` field to "
                             "tell the arms apart", field="clinical.fields.trastuzumab",
                             fix="map the arm column to trastuzumab: true/false")
    if tag == "multi_arm_anti_her2" and "arm" not in obs:
        raise Her2AtlasError("a multi_arm_anti_her2 cohort needs the `arm` field",
                             field="clinical.fields.arm", fix="map the treatment-arm column")
    if tag == "multi_arm_anti_her2":
        _check_declared_arms(obs, design, sorted(obs["arm"].dropna().astype(str).unique()))
    if tag == "randomised_trastuzumab":
        return [
            Subgroup("HER2+ trastuzumab arm", "within_trastuzumab",
                     her2 & treated.fillna(False).astype(bool), True),
            Subgroup("HER2+ no-trastuzumab arm", "within_untreated_arm",
                     her2 & (~treated.fillna(True)).astype(bool), True),
        ]
    if tag == "multi_arm_anti_her2":
        return _multi_arm(obs, design, her2)
    if tag == "trastuzumab_treated":
        mask = her2 & (treated.fillna(False).astype(bool) if treated is not None else True)
        return [Subgroup("HER2+ trastuzumab-treated", "within_trastuzumab", mask, True)]
    if tag == "not_trastuzumab_treated" and treated is not None:
        given = her2 & treated.fillna(False).astype(bool)
        groups = [Subgroup("HER2+ without trastuzumab", "prognosis",
                           her2 & ~treated.fillna(False).astype(bool), True)]
        if given.any():  # the treated subset the manifest identifies answers the primary
            groups.insert(0, Subgroup("HER2+ trastuzumab-treated subset", "within_trastuzumab",
                                      given, True))
        return groups
    label = "HER2+ (treatment unrecorded)" if tag == "treatment_unrecorded" else "HER2+"
    return [Subgroup(label, "prognosis", her2, True)]
