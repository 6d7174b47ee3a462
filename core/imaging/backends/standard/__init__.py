"""The ``standard`` tier: production models (ultralytics YOLO, SAM, Swin2SR, SD inpainting) on a GPU.

Weights come from the Hugging Face hub or local paths named in ``ModelSettings``; each module exposes
``weights(models)`` for ``core.imaging.models_download`` and a ``build_*`` factory for the
registry. Heavy libraries are imported inside functions only.
"""
