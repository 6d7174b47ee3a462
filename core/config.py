"""The one typed settings object. Nothing else in Atelier reads ``os.environ``.

Environment variables use the prefix ``ATELIER_`` and ``__`` for nesting, e.g. ``ATELIER_TELEGRAM__TOKEN``;
a ``.env`` file in the working directory is read as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Tier = Literal["offline", "standard", "tiny"]

MB = 1024 * 1024


class TelegramSettings(BaseModel):
    token: SecretStr | None = None
    # Bot API server root: requests go to {api_url}/bot{token}/{method},
    # files to {api_url}/file/bot{token}/{path}.
    # A self-hosted Bot API server lifts the 20 MB download / 50 MB upload limits.
    api_url: str = "https://api.telegram.org"
    max_download_bytes: int = 20 * MB
    max_photo_upload_bytes: int = 10 * MB
    max_document_upload_bytes: int = 50 * MB
    poll_timeout_s: float = 10.0


class StudioSettings(BaseModel):
    """The chat side, whatever the platform."""

    # Seconds a "/unmask then the photo" request waits for the photo.
    pending_command_ttl_s: int = 600
    # Quotas on the jobs a user starts (selfie checks and trainings have their own limits, see train):
    # queued or running at once per user, started in the last hour per user, queued or running at once in
    # one chat (a group), and queued in the whole studio.
    max_active_per_user: int = 3
    max_jobs_per_hour: int = 30
    max_active_per_chat: int = 10
    max_queued: int = 500
    # Who may use /admin: "platform:user id" entries, e.g. ["telegram:12345", "discord:67890"].
    operators: list[str] = Field(default_factory=list)
    # Retention: a job's photo and results are deleted this many days after it ended (failed and cancelled
    # jobs': at once); every worker looks for such jobs every ``retention_sweep_s``. /privacy tells users.
    keep_days: float = Field(default=7.0, gt=0)
    retention_sweep_s: float = Field(default=600.0, gt=0)


class DiscordSettings(BaseModel):
    token: SecretStr | None = None
    # REST API root. The gateway address is asked from it, so a proxy or a local test server can stand in.
    api_url: str = "https://discord.com/api/v10"
    # Slash commands are synced to these guilds only (instant: development); empty syncs them globally
    # (production; Discord may take up to an hour to show changes).
    guild_ids: list[int] = Field(default_factory=list)
    sync_commands: bool = True
    # Our own cap for one attachment, besides the interaction's attachment_size_limit.
    max_download_bytes: int = 25 * MB
    # Interaction tokens are valid for 15 minutes; after this many seconds progress and late results go
    # through the channel with the bot token instead.
    interaction_token_ttl_s: int = 14 * 60


class IntakeSettings(BaseModel):
    # Processes that check and re-encode photos for a bot process (``core.imaging.intake_pool``): at most this
    # many decodes at once, none of them in the bot's own memory. 0: in the calling thread.
    workers: int = Field(default=2, ge=0)
    max_bytes: int = 20 * MB
    max_pixels: int = 40_000_000
    min_side: int = 64
    max_aspect_ratio: float = 4.0


class ModelSettings(BaseModel):
    tier: Tier = "offline"
    # "auto": CUDA when available, else CPU.
    device: str = "auto"
    # Hugging Face ids or local paths for the standard tier.
    detector: str = "arnabdhar/YOLOv8-Face-Detection"
    detector_file: str = "model.pt"
    mask_classifier: str = "DamarJati/Face-Mask-Detection"
    segmenter: str = "facebook/sam-vit-base"
    inpainter: str = "stable-diffusion-v1-5/stable-diffusion-inpainting"
    upscaler: str = "caidas/swin2SR-classical-sr-x4-64"
    # /suit: face parsing (hair, skin, neck, clothes) and exemplar-based inpainting.
    face_parser: str = "jonathandinu/face-parsing"
    exemplar_inpainter: str = "Fantasy-Studio/Paint-by-Example"
    cache_dir: Path | None = None
    # Detector classes / classifier labels that mean "wears a mask". Empty: recognised by name ("mask",
    # "with_mask", "WithMask", "face_mask" are masked; "no_mask", "without_mask", "WithoutMask" are not).
    masked_labels: list[str] = Field(default_factory=list)
    # The SD 1.5 safety checker (an extra CLIP-L, ~0.6 GB). Off by default: it sees only the lower-face crop
    # and blacks out benign skin close-ups; when on, a flagged result is refused, never returned black.
    safety_checker: bool = False
    # Offline tier: a generated stranger's lower face where no selfie is known; NON-COMMERCIAL weights.
    face_prior: Literal["none", "stylegan"] = "none"
    # Donor faces the face prior generates once and caches (about 2 s of CPU each; a third are kept).
    face_prior_bank: int = 32
    # Inpainting parameters (standard and tiny tiers).
    seed: int = 0
    steps: int = 25
    guidance_scale: float = 7.5
    strength: float = 1.0
    prompt: str = "a natural photo of a person's face, mouth and nose, realistic skin, detailed"
    negative_prompt: str = "face mask, mask, covering, blurry, deformed, cartoon, text, watermark"
    # Faces whose box is smaller than this (shorter side, px) are refused; below upscale_below they are
    # super-resolved before inpainting.
    min_face_px: int = 40
    upscale_below_px: int = 192
    detection_threshold: float = 0.5
    # Selfie checks refuse a selfie whose mask probability reaches this.
    mask_threshold: float = 0.5
    # /unmask answers "no mask" only for a face that is bare with at least this probability: the user asked
    # to unmask, so when the classifier is unsure the face is unmasked.
    no_mask_certainty: float = 0.7
    # Best-of-N: how many faces a job with the user's identity paints, keeping the one most like the user.
    candidates: int = 1
    # /tryon, standard tier: IP-Adapter Plus (repository, weight file, image encoder folder) on the SD 1.5
    # inpainting model above; how closely the result copies the garment (the adapter's scale, 0..1); steps.
    ip_adapter: str = "h94/IP-Adapter"
    ip_adapter_weight: str = "models/ip-adapter-plus_sd15.safetensors"
    ip_adapter_encoder: str = "models/image_encoder"
    tryon_fidelity: float = Field(default=0.8, ge=0, le=1)
    tryon_steps: int = 25
    tryon_prompt: str = "a photo of a person wearing the garment, natural fabric folds, realistic, detailed"
    tryon_negative_prompt: str = "naked, nude, deformed, extra arms, blurry, text, watermark, cartoon"
    # /sketch, standard tier: SD 1.5 with ControlNet scribble (the strength sets its conditioning scale and
    # for how much of the run it guides), LCM-LoRA for the fast preview. The text encoder and VAE are the
    # inpainter's (the same SD 1.5 family), so the UNet and the ControlNet are all it loads.
    sketch_base: str = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    sketch_controlnet: str = "lllyasviel/control_v11p_sd15_scribble"
    sketch_lcm_lora: str = "latent-consistency/lcm-lora-sdv1-5"
    sketch_lcm_lora_weight: str = "pytorch_lora_weights.safetensors"
    sketch_strength: float = Field(default=0.6, ge=0, le=1)
    sketch_steps: int = 25
    sketch_fast_steps: int = Field(default=4, ge=1, le=8)
    sketch_fast_guidance: float = 1.0
    sketch_prompt: str = (
        "a portrait photo of a person's face, looking at the camera, natural skin, soft light, "
        "detailed, sharp"
    )
    sketch_negative_prompt: str = (
        "drawing, sketch, lines, cartoon, painting, deformed, blurry, text, watermark, naked, nude"
    )
    # /sketch, offline tier (face prior only): faces in the bank of generated faces and their drawings
    # (about 0.6 s of CPU each, made once and cached beside the face prior's), neighbours blended, rounds
    # of search after the blend, and the time after which the search stops.
    sketch_bank: int = Field(default=400, ge=4)
    sketch_neighbours: int = Field(default=24, ge=1)
    sketch_refine_rounds: int = Field(default=3, ge=0)
    sketch_time_budget_s: float = 2.5


class TrainSettings(BaseModel):
    """/train: selfie checks, the LoRA recipe and the limits of the train queue."""

    min_selfies: int = 5
    max_selfies: int = 20
    # Seconds a /train upload session stays open between photos.
    session_ttl_s: int = 24 * 3600
    # Selfie checks (dreambooth.selfies): face size in the photo, sharpness, identity distances.
    min_face_px: int = 160
    min_sharpness: float = 40.0
    same_person_distance: float = 0.6
    duplicate_distance: float = 0.08
    # LoRA on the inpainting UNet.
    resolution: int = 512
    rank: int = 8
    steps: int = 800
    learning_rate: float = 1e-4
    batch_size: int = 1
    checkpoint_every: int = 100
    prior_preservation: bool = False
    class_images: int = 50
    prior_loss_weight: float = 1.0
    seed: int = 0
    # At most this many training jobs queued or running at once (all users); one per user always.
    max_active: int = 4
    # Raw selfies are deleted once the model is trained, unless the user keeps them (/settings).
    keep_selfies_default: bool = False


class ModerationSettings(BaseModel):
    """The content check of every result before it is stored and delivered (``core.imaging.moderation``)."""

    # On in every tier. Turning it off is the operator's decision and is logged at every worker start.
    enabled: bool = True
    # A result is withheld when a detection of one of ``labels`` reaches this confidence. The shared test
    # photos (faces, masked faces, people and garments; re-encoded, resized, relit, blurred) score at most
    # 0.30 (bench/bench_moderation.py).
    threshold: float = Field(default=0.5, gt=0, le=1)
    labels: list[str] = Field(
        default_factory=lambda: [
            "FEMALE_BREAST_EXPOSED",
            "FEMALE_GENITALIA_EXPOSED",
            "MALE_GENITALIA_EXPOSED",
            "BUTTOCKS_EXPOSED",
            "ANUS_EXPOSED",
        ]
    )
    # The detector's ONNX file; unset: the one inside the nudenet wheel.
    model_path: Path | None = None


class WorkerSettings(BaseModel):
    concurrency: int = 1
    max_attempts: int = 3
    # Hard / soft time limits per queue, seconds. Must stay below the broker's visibility timeout.
    gpu_time_limit_s: int = 300
    cpu_time_limit_s: int = 120
    train_time_limit_s: int = 3 * 3600
    visibility_timeout_s: int = 4 * 3600
    # A job queued this long with no message of it in the broker (lost in a Redis failover, or in the last
    # second before a crash) is sent again by a worker.
    lost_message_after_s: int = 120


class WebSettings(BaseModel):
    """The /sketch drawing canvas (``bots/web``), served by the bot process behind an HTTPS reverse proxy."""

    # Loopback by default: the operator's reverse proxy (Caddy, nginx) on the same host terminates HTTPS and
    # forwards here. 0.0.0.0 only when the proxy runs on another host (a container network).
    host: str = "127.0.0.1"
    # 0: any free port (tests).
    port: int = Field(default=8080, ge=0, le=65535)
    # The HTTPS address users reach, without the trailing slash (e.g. https://atelier.example.com); the page
    # is at {public_url}/sketch. Empty: unset (Telegram opens Mini Apps only over HTTPS).
    public_url: str = ""
    # Signs the canvas links of Discord and the console. Unset: `atelier serve` makes one per run and warns
    # (links stop working at a restart, and separate bot processes would not share it).
    secret: SecretStr | None = None
    # How long a signed canvas link stays valid.
    link_ttl_s: int = Field(default=3600, gt=0)
    # Telegram's initData older than this is refused (Telegram signs it when the Mini App opens).
    init_data_max_age_s: int = Field(default=3600, gt=0)
    # The live preview (fast jobs shown in the canvas only): per user at most one every
    # ``preview_interval_s`` and ``previews_per_hour`` an hour. Previews are jobs: the studio's quotas
    # (``StudioSettings``) count them too.
    preview_interval_s: float = Field(default=4.0, ge=0)
    previews_per_hour: int = Field(default=20, ge=0)


class BlobSettings(BaseModel):
    """Where photos, results, selfies and identity models are kept (``core.blobs.open_blob_store``)."""

    # s3://bucket/prefix: an S3-compatible bucket every machine shares. Unset: the directory {data_dir}/blobs.
    # Credentials are not settings: the client reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or another
    # source of boto3's default chain: a profile, an instance role).
    url: str | None = None
    # MinIO, Ceph, R2 and other S3-compatible servers: their address (requests then use path-style URLs).
    endpoint_url: str | None = None
    region: str | None = None
    # Objects from this size up (identity models, large results) go up in parts of this size.
    multipart_threshold_bytes: int = Field(default=8 * MB, ge=5 * MB)
    # Tries per request (botocore's standard retry mode: 5xx answers, throttling, dropped connections).
    max_attempts: int = Field(default=5, ge=1)

    @field_validator("url")
    @classmethod
    def _an_s3_url(cls, url: str | None) -> str | None:
        if not url:
            return None
        if not url.startswith("s3://") or not url.removeprefix("s3://").split("/", 1)[0]:
            raise ValueError(f"blobs.url must look like s3://bucket/prefix, not {url!r}")
        return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ATELIER_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Path("data")
    # Unset: an embedded Redis server is started, persisting to {data_dir}/redis with AOF.
    redis_url: str | None = None
    # Unset: a SQLite file in the data dir. PostgreSQL: postgresql+psycopg://user:pass@host/db
    database_url: str | None = None
    log_level: str = "INFO"
    default_language: str = "en"

    studio: StudioSettings = Field(default_factory=StudioSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    blobs: BlobSettings = Field(default_factory=BlobSettings)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'atelier.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"
