"""The blob store on an S3-compatible bucket (AWS S3, MinIO, Ceph, Cloudflare R2): the local directory's keys
under ``s3://bucket/prefix``, for a studio whose bots and workers run on several machines.

The same guarantees as ``LocalBlobStore``, one by one:

- ``put`` is atomic: S3 shows an object only once its PUT, or the completion of its multipart upload, has
  succeeded, so a reader sees the old object or the whole new one. From ``multipart_threshold_bytes`` up
  (identity models, 60 MB results) the object goes up in parts, several at once, each retried on its own.
- ``get`` of a missing key raises ``FileNotFoundError``, as reading a missing file does; ``exists`` is a HEAD.
- ``delete`` of a missing key is fine (S3 answers 204 either way).
- ``keys`` pages through ListObjectsV2; ``delete_prefix`` deletes in DeleteObjects batches of 1,000, the
  most one request takes.
- Every key passes ``validate_key`` before a request is made.

Requests are retried by botocore's standard mode (5xx answers, throttling, dropped connections). The client
is made at first use in the process that uses it: a Celery prefork child builds its own after the fork
instead of sharing its parent's connections. Credentials come from boto3's default chain
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, a profile, an instance role); this class never holds or
logs them.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from core.blobkeys import validate_key, validate_prefix
from core.config import BlobSettings

log = logging.getLogger(__name__)

MB = 1024 * 1024
DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        multipart_threshold_bytes: int = 8 * MB,
        max_attempts: int = 5,
    ) -> None:
        self.bucket = bucket
        folder = prefix.strip("/")
        self.prefix = validate_prefix(folder + "/") if folder else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self.multipart_threshold_bytes = multipart_threshold_bytes
        self._config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            # MinIO and Ceph serve buckets by path; virtual hosts need DNS set up for each bucket.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            connect_timeout=10,
            read_timeout=120,
            # Checksums only where the API demands them: several S3-compatible servers refuse the
            # trailing CRC32 that boto3 sends by default since 1.36.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold_bytes,
            multipart_chunksize=multipart_threshold_bytes,
            max_concurrency=4,
        )
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: BlobSettings) -> S3BlobStore:
        bucket, _, prefix = (settings.url or "").removeprefix("s3://").partition("/")
        return cls(
            bucket,
            prefix,
            endpoint_url=settings.endpoint_url,
            region=settings.region,
            multipart_threshold_bytes=settings.multipart_threshold_bytes,
            max_attempts=settings.max_attempts,
        )

    def __repr__(self) -> str:
        return f"S3BlobStore('s3://{self.bucket}/{self.prefix}', endpoint_url={self.endpoint_url!r})"

    def put(self, key: str, data: bytes) -> None:
        name = self._name(key)
        if len(data) < self.multipart_threshold_bytes:
            self._s3().put_object(Bucket=self.bucket, Key=name, Body=data)
            return
        # BytesIO over bytes shares their buffer: the parts are read from ``data`` itself.
        self._s3().upload_fileobj(io.BytesIO(data), self.bucket, name, Config=self._transfer)

    def get(self, key: str) -> bytes:
        try:
            answer = self._s3().get_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as error:
            if _missing(error):
                raise FileNotFoundError(f"no blob {key!r} in s3://{self.bucket}/{self.prefix}") from error
            raise
        body = answer["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data

    def exists(self, key: str) -> bool:
        try:
            self._s3().head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self._s3().delete_object(Bucket=self.bucket, Key=self._name(key))

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (a folder, ending in ``/``), sorted."""
        folder = self.prefix + validate_prefix(prefix)
        pages = self._s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder)
        start = len(self.prefix)
        return sorted(item["Key"][start:] for page in pages for item in page.get("Contents", ()))

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under ``prefix``; how many keys were deleted."""
        names = [self.prefix + key for key in self.keys(prefix)]
        for first in range(0, len(names), DELETE_BATCH):
            batch = [{"Key": name} for name in names[first : first + DELETE_BATCH]]
            answer = self._s3().delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            if errors := answer.get("Errors"):
                failed = errors[0]
                raise OSError(
                    f"could not delete {len(errors)} object(s) under {prefix!r} in s3://{self.bucket}: "
                    f"{failed.get('Key')}: {failed.get('Code')} {failed.get('Message')}"
                )
        return len(names)

    def _name(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _s3(self) -> Any:
        if self._pid != os.getpid():  # a forked child: the parent's lock may be held, its sockets are shared
            self._pid, self._lock, self._client = os.getpid(), threading.Lock(), None
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    # A session of its own: boto3's default session is not safe to share between threads.
                    session = boto3.session.Session()
                    self._client = session.client(
                        "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=self._config
                    )
                    log.debug("blob store client for %r in process %d", self, self._pid)
                client = self._client
        return client


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING
