"""The report folder keeps only the current run's pages."""

from __future__ import annotations

from her2atlas.report_folder import remove_stale_pages


def test_pages_of_a_previous_config_are_removed(tmp_path):
    names = ["index.html", "cohort_a.html", "cohort_old.html", "signature_S1.html",
             "signature_GONE.html", "notes.txt"]
    for name in names:
        (tmp_path / name).write_text("x")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "cohort_old.html").write_text("x")  # only the top level is pages
    removed = remove_stale_pages(tmp_path, [tmp_path / "cohort_a.html",
                                            str(tmp_path / "signature_S1.html")])
    assert removed == [tmp_path / "cohort_old.html", tmp_path / "signature_GONE.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cohort_a.html", "figures", "index.html", "notes.txt", "signature_S1.html"]
