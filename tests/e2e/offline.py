"""Shared by every front end's tests: a guard that fails any connection off this machine, and test images."""

from __future__ import annotations

import io
import ipaddress
import os
import socket
from typing import Any

import pytest
from PIL import Image, ImageDraw


def refuse_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a non-loopback address fails the test (the fake servers are on 127.0.0.1)."""
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if not ipaddress.ip_address(host).is_loopback:
                raise AssertionError(f"test tried to reach the network: {host}")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


def photo_bytes(
    width: int = 320, height: int = 240, fmt: str = "JPEG", color: str = "tan", noise: bool = False
) -> bytes:
    """A small real image file; ``noise`` makes it incompressible (for size limits)."""
    if noise:
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), color)
        ImageDraw.Draw(image).ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill="navy")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()
