"""Curated synonym table used by ``her2atlas draft``: raw key names and value vocabularies.

Keys are compared after :func:`normalise_key` (lower case, every run of punctuation or space
turned into one space), so ``her2_status``, ``HER2 status`` and ``her2.status`` are the same key.
Values are compared after :func:`normalise_value`. Each vocabulary has three parts: values that
map with confidence, values that are *ambiguous* (mapped to null and listed for review, never
decided silently) and, for 0/1 codes, values that are confident only when the key names the
field. Sources: the GEO series in ``../shared/guides/GEO-FIELDS.md`` and the curated manifests.
"""

from __future__ import annotations

import re

#: Standard fields recognised from their key, most specific pattern first. A pattern matches
#: the normalised key with ``re.fullmatch``; the position in the list is the key's rank.
KEY_PATTERNS: dict[str, list[str]] = {
    "her2_status": [r"(her2|her 2|erbb2|her2 neu)( status| receptor status)?( \(.*)?",
                    r"(her2|erbb2)( status)? by (ihc|fish).*", r"(her2|erbb2) (ihc|fish)( status)?"],
    "er_status": [r"(er|esr1|estrogen receptor|oestrogen receptor)( status)?( \(.*)?",
                  r"er (ihc|status ihc).*"],
    "pr_status": [r"(pr|pgr|progesterone receptor)( status)?( \(.*)?", r"(pr|pgr) ihc.*"],
    "pcr": [r"pcr( \(.*| vs rd.*| status| rd)?", r"(pathologic(al)?|path) (complete )?(response|cr)",
            r"path cr", r"(drug |clinical |tumou?r )?response( at surgery| to treatment)?",
            r"pathologic(al)? response", r"path response", r"outcome"],
    "pam50": [r"pam50( subtype| call| class)?", r"(intrinsic|molecular) subtype( pam50)?",
              r"subtype"],
    "patient_id": [r"(patid|pat id|patient|patient id|patient number|subject|subject id|"
                   r"individual|donor|donor id|case id)"],
    "timepoint": [r"(timepoint|time point|sample time|biopsy time|visit|treatment timepoint)"],
    "rcb": [r"rcb( class| category| index)?", r"residual cancer burden( class)?"],
    "arm": [r"(treatment )?arm( description)?", r".* arm", r"(treatment|therapy) (group|code|type)",
            r"group", r"regimen( code)?", r"randomi[sz]ation( arm)?"],
    "treatment": [r"(neo ?adjuvant )?(treatment|therapy|chemotherapy|regimen|drug|drugs)"
                  r"( .*)?", r"treatments comments", r".*arm.*"],
}

#: Keys naming the drug itself, whose values are then yes/no codes (``herceptin: 1``).
DRUG_FLAG_KEYS = r"(herceptin|trastuzumab)( treatment| given| yes no)?( \(.*)?"

#: Survival keys: endpoint words (first match wins) and the words that make a key a time.
ENDPOINT_WORDS: list[tuple[str, str]] = [
    ("dmfs", r"dmfs|ddfs|drfs|mfs|distant (metastas[ie]s|relapse|recurrence)|metastas[ie]s"),
    ("dss", r"dss|bcss|disease specific|breast cancer specific|cancer specific"),
    ("dfs", r"dfs|disease free"),
    ("efs", r"efs|event free"),
    ("pfi", r"pfi|pfs|progression"),
    ("rfs", r"rfs|relapse|recurrence|ibcfs|idfs"),
    ("os", r"\bos\b|overall survival|death|dead|vital|deceased|survival"),
]
TIME_WORDS = r"\btime\b|\bt\b|months?|days?|years?|\bmo\b|\bdays\b|\byrs?\b|follow ?up|duration|interval"
EVENT_WORDS = r"event|status|censor|\be\b|indicator|occurred"
#: Generic keys that name no endpoint: paired only with each other, endpoint left to the user.
GENERIC_TIME = r"(time|survival time|follow ?up( time)?|time months|time days)"
GENERIC_EVENT = r"(event|status|censored|censor)"

#: Unit named in a time key.
UNIT_WORDS = {"days": r"\bdays?\b|\(d\)", "months": r"\bmonths?\b|\bmo\b|\(m\)",
              "years": r"\byears?\b|\byrs?\b|\(y\)"}

STATUS_POSITIVE = {"positive", "pos", "p", "+", "yes", "y", "amplified", "amp",
                   "overexpressed", "overexpression", "her2 positive"}
STATUS_NEGATIVE = {"negative", "neg", "n", "-", "no", "not amplified", "non amplified",
                   "nonamplified", "her2 negative"}
STATUS_AMBIGUOUS = {"2+", "equivocal", "borderline", "indeterminate", "unknown", "nd",
                    "not done", "not available", "not evaluated", "pending", "nr", "x", "u",
                    "weak", "intermediate", "low", "high"}
#: Codes that mean positive/negative in a status key but an IHC score in an IHC key.
STATUS_CODES = {"1": "positive", "0": "negative"}
IHC_SCORES = {"0": "negative", "0+": "negative", "1": "negative", "1+": "negative",
              "3": "positive", "3+": "positive", "2": None, "2+": None}

PCR_YES = {"pcr", "complete response", "pathologic complete response",
           "pathological complete response", "cr", "complete", "ypt0", "ypt0 ypn0"}
PCR_NO = {"rd", "residual disease", "non pcr", "no pcr", "npcr", "objr", "nor", "pr",
          "partial response", "no response", "stable disease", "progressive disease", "sd",
          "pd", "residual", "non responder rd", "rd residual disease"}
PCR_AMBIGUOUS = {"near complete response", "ncr", "near complete", "responder",
                 "non responder", "nonresponder", "unknown", "nd", "not evaluable", "ne"}
#: Confident only when the key itself names pCR (``pcr (1=yes)``, ``path cr``).
PCR_CODES = {"1": 1, "0": 0, "yes": 1, "no": 0, "y": 1, "n": 0, "true": 1, "false": 0,
             "g": 1, "b": 0}
PCR_KEY = r"pcr|complete|path cr"

EVENT_YES = {"1", "yes", "y", "true", "event", "relapse", "recurrence", "dead", "deceased",
             "died", "death", "metastasis", "progression", "relapsed", "recurred"}
EVENT_NO = {"0", "no", "n", "false", "censored", "no event", "no relapse", "no recurrence",
            "alive", "living", "no metastasis", "relapse free", "disease free", "none"}

BOOL_YES = {"1", "yes", "y", "true", "t", "treated", "given"}
BOOL_NO = {"0", "no", "n", "false", "f", "untreated", "not given", "none"}

PAM50 = {"luma": "LumA", "luminal a": "LumA", "lum a": "LumA", "lumb": "LumB",
         "luminal b": "LumB", "lum b": "LumB", "her2": "Her2", "her2e": "Her2",
         "her2 enriched": "Her2", "erbb2": "Her2", "her2 like": "Her2", "basal": "Basal",
         "basal like": "Basal", "normal": "Normal", "normal like": "Normal",
         "claudin low": "claudin-low"}

TIMEPOINTS = {"baseline": "baseline", "pre": "baseline", "pretreatment": "baseline",
              "pre treatment": "baseline", "before treatment": "baseline", "diagnosis": "baseline",
              "diagnostic": "baseline", "pre therapy": "baseline", "t0": "baseline",
              "day 0": "baseline", "on treatment": "on_treatment", "on therapy": "on_treatment",
              "during treatment": "on_treatment", "surgery": "surgery", "resection": "surgery",
              "surgical": "surgery", "mastectomy": "surgery"}
TIMEPOINT_AMBIGUOUS = {"post", "post treatment", "posttreatment", "after", "t1", "t2",
                       "follow up", "unknown"}

#: Anti-HER2 agents: (agent, words in a free-text value, regimen-code tokens that contain it).
AGENTS: list[tuple[str, str, set[str]]] = [
    ("trastuzumab", r"trastuzumab|herceptin|t ?dm1|kadcyla|\btras\b",
     {"H", "TH", "TCH", "TCHP", "THP", "HP", "THL", "TCHL", "TCHTY", "ACTH", "CTH", "FECH",
      "ECH", "PH", "DH", "ACH", "TXH", "XH", "FECTH", "TCTH"}),
    ("pertuzumab", r"pertuzumab|perjeta", {"TCHP", "THP", "HP", "PH"}),
    ("lapatinib", r"lapatinib|tykerb|tyverb", {"L", "TL", "THL", "TCL", "TY", "TCTY", "TCHTY",
                                               "TCHL"}),
    ("neratinib", r"neratinib", set()),
]
#: Upper-case code tokens containing H that are known not to be trastuzumab.
NOT_TRASTUZUMAB_CODES = {"CHEMO", "TH1", "HR", "HER", "HRT"}


def normalise_key(key: str) -> str:
    """``'HER2_Status'`` → ``'her2 status'``: lower case, runs of ``_ . - / :`` and spaces → one space.

    Brackets and ``=``/``+`` stay, so code lists such as ``(1=yes)`` remain readable.
    """
    text = key.strip().lower()
    text = re.sub(r"[\s_.\-/:;,]+", " ", text)
    return text.strip()


def normalise_value(value: str) -> str:
    """``'Luminal-A'`` → ``'luminal a'``; ``'HER2+'`` keeps its sign (``'her2+'``)."""
    text = value.strip().lower()
    text = re.sub(r"[\s_\-/.,;:]+", " ", text)
    return text.strip()


def key_codes(key: str) -> dict[str, str]:
    """Value codes declared in a key, e.g. ``her2 (0 = negative; 1 = positive)`` → {'0': 'negative', …}.

    Also reads ``pcr (1=yes)`` and ``her2.status (1: positive, 0: negative)``.
    """
    codes = {}
    for code, word in re.findall(r"(\d)\s*[=:]\s*([A-Za-z]+)", key):
        codes[code] = word.lower()
    for word, code in re.findall(r"([A-Za-z]+)\s*\((\d)\)", key):  # 'pcr (1) vs rd (0)'
        codes.setdefault(code, word.lower())
    return codes
