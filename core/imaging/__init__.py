"""Imaging: intake, the job pipelines and their backends, ID-photo formats and compositing. Never imports the
studio."""
