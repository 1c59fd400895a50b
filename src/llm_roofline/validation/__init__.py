"""Accuracy against measured serving runs (docs/accuracy.md): ``llm-roofline validate`` and ``lr.validate``.

    table.py    reading a measured serving CSV (the columns of ../shared/validation/serving-dev.csv)
    cases.py    a row -> the serving call that predicts it (model, system, formats, engine, workers), or why not
    predict.py  the calls, one vectorized closed-form evaluation per configuration, ideal and calibrated
    stats.py    median absolute error, p90, signed bias, share predicted faster
    report.py   ValidationReport: rows, error tables by group, unpredictable rows, to_dict
    fit.py      the serving profiles' fit (serving/profiles.py) and its leave-one-group-out cross-validation
    api.py      validate, fit_serving_profiles, write_profiles

Nothing here imports a face (cli, web, plots).
"""
