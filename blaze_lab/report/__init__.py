"""blaze_lab.report — comparative reports of sweep results.

- :mod:`~blaze_lab.report.rows`, :mod:`~blaze_lab.report.labels`: which rows and columns count; config labels.
- :mod:`~blaze_lab.report.figures`, :mod:`~blaze_lab.report.tables`: shared figures and tables.
- :mod:`~blaze_lab.report.llm_figures`: LLM figures and the ``llm`` section.
- :mod:`~blaze_lab.report.sections`: the registry engine kind -> section function (other kinds plug in here).
- :mod:`~blaze_lab.report.html`: ``build_report`` / ``write_report`` (self-contained, offline HTML).
- :mod:`~blaze_lab.report.png`: PNG export through kaleido where a Chromium exists.

Example:
    >>> from blaze_lab.report.html import write_report
    >>> write_report("results/quickstart")  # doctest: +SKIP
    PosixPath('results/quickstart/report.html')
"""
