"""DeepSpeech2 for Korean: model, data, training, evaluation (export lives in export/ds2.py)."""
