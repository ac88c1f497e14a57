"""Reports: pure functions from a results folder to summary.json, report.html and charts.

`load_run(path) -> Run` reads the folder; `summarize(run)`, `success_vs_load(run)`,
`timeline(run)` and the renderers in `reports.pages` compute; only `build_report` and the
command line (`python -m reports <run>`, `paystorm report <run>`) write files.
"""
