"""Evaluation across places: does a sky model hold up beyond the camera it learnt from?

    python -m train.places --data ../shared/data/milan ../shared/data/india-nepal --out runs/places

A study on frozen backbone features (cheap: one feature pass, then small models), whose
parts train.lopo reuses for the fine-tuned network:

- :mod:`train.places.features`: samples, views of the frame, augmentation, cached features;
- :mod:`train.places.systems`: baselines, recipes, the phase-1 head;
- :mod:`train.places.folds`: leave-one-place-out folds, held-out days, metrics, calibration;
- :mod:`train.places.study`: the protocol, top to bottom; :mod:`train.places.report`: report.md.
"""
