"""Reports: pure functions from a results folder to summary.json, report.html and charts.

`load_run(path) -> Run` reads the folder; `summarize(run)`, the charts in `reports.charts`
and `reports.detail_charts` (numbers from `reports.series`, `causes`, `distribution`,
`internals`) and the renderers in `reports.pages` compute; `reports.compare` and
`compare_charts` do the same for several runs. Only `build_report`, `paystorm compare` and
the command line (`python -m reports <run>`, `paystorm report <run>`) write files.
"""
