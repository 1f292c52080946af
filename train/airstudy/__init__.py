"""What the air model adds to a verdict, and what the photo adds to it, measured on every
leave-one-place-out fold with the air model simulated from the station readings.

    python -m train.airstudy --lopo runs/lopo --data ../shared/data/milan ../shared/data/india-nepal

Reads a train.lopo folder (probs.npz, metrics.json) and writes airstudy.json and airstudy.md
beside them: per place and pooled, the air model alone, the photo alone and the two combined
on a grid of simulated errors (airken.core.witnesses, the app's own arithmetic); the photo's
weight and the air model's sigma chosen on the other places (nested); the share of verdicts
shown as sure and how often those are right; a fixed view calibrated from the air model's
archive; and the verdict rule the app ships (airken.core.rule), fitted on every place.
"""
