"""Training pipeline (TensorFlow): data, backbone, evaluation, export, publishing."""
