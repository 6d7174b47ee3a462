"""The offline tier: real but modest backends that need no downloads and no GPU (MediaPipe models shipped in
the mediapipe wheel, landmark geometry, OpenCV)."""
