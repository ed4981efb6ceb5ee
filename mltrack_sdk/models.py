"""Pydantic models of the rows mltrack stores and of the rows its views return.

Field names are the column names, so a row from either transport validates as it is: psycopg
hands over native ``UUID``/``datetime`` values, PostgREST hands over strings, and pydantic parses
both. Columns a model does not know (added by a later migration) are ignored, and the models are
frozen because they describe what the database said, not something to edit::

    from mltrack_sdk.models import TrainingSession
    session = TrainingSession.model_validate(row)   # row: a dict from Transport.select()
    print(session.session_name, session.status, session.best_map50_95)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

SessionStatus = Literal["pending", "running", "completed", "failed", "cancelled"]


class Row(BaseModel):
    """Base of every row model: frozen, extra columns ignored."""

    # protected_namespaces=(): columns such as model_type/model_path are ordinary fields here.
    model_config = ConfigDict(frozen=True, extra="ignore", protected_namespaces=())


class TrainingSession(Row):
    """A row of ``training_sessions``: one training run, its configuration and summary."""

    id: UUID
    owner_id: UUID | None = None
    session_name: str | None = None
    model_type: str | None = None
    dataset_name: str | None = None
    dataset_id: UUID | None = None
    dataset_size: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    img_size: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    hardware_info: dict[str, Any] = Field(default_factory=dict)
    status: SessionStatus = "pending"
    status_reason: str | None = None
    hyperparameter_run_id: UUID | None = None
    current_epoch: int | None = None
    epochs_completed: int = 0
    best_epoch: int | None = None
    best_map50: float | None = None
    best_map50_95: float | None = None
    final_map50: float | None = None
    final_map50_95: float | None = None
    final_precision: float | None = None
    final_recall: float | None = None
    final_loss: float | None = None
    model_path: str | None = None
    best_inference_ms: float | None = None
    best_fps: float | None = None
    stop_requested: bool = False
    last_heartbeat_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_seconds: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class EpochMetrics(Row):
    """A row of ``training_metrics``: the metrics of one epoch of one session."""

    session_id: UUID
    epoch: int
    box_loss: float | None = None
    cls_loss: float | None = None
    dfl_loss: float | None = None
    total_loss: float | None = None
    val_box_loss: float | None = None
    val_cls_loss: float | None = None
    val_dfl_loss: float | None = None
    precision: float | None = None
    recall: float | None = None
    map50: float | None = None
    map50_95: float | None = None
    learning_rate: float | None = None
    epoch_time_seconds: float | None = None
    gpu_memory_mb: float | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    recorded_at: datetime | None = None


class ValidationResult(Row):
    """A row of ``validation_results``: one class (or ``"all"``) of one split of a session."""

    id: int
    session_id: UUID
    split: str = "val"
    class_name: str = "all"
    class_id: int | None = None
    images: int | None = None
    instances: int | None = None
    precision: float | None = None
    recall: float | None = None
    map50: float | None = None
    map50_95: float | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    recorded_at: datetime | None = None


class ModelBenchmark(Row):
    """A row of ``model_benchmarks``: inference speed of a session's model on a device."""

    id: UUID
    session_id: UUID
    device: str = "cpu"
    device_name: str | None = None
    hardware_info: dict[str, Any] = Field(default_factory=dict)
    model_format: str = "pytorch"
    dtype: str = "fp32"
    batch_size: int = 1
    img_size: int | None = None
    num_runs: int | None = None
    warmup_runs: int | None = None
    avg_inference_ms: float
    min_inference_ms: float | None = None
    max_inference_ms: float | None = None
    p50_inference_ms: float | None = None
    p95_inference_ms: float | None = None
    fps: float | None = None
    preprocess_ms: float | None = None
    postprocess_ms: float | None = None
    created_at: datetime | None = None


class TrainingDataset(Row):
    """A row of ``training_datasets``: class names and split sizes of a dataset."""

    id: UUID
    owner_id: UUID | None = None
    name: str | None = None
    description: str | None = None
    format: str = "yolo"
    path: str | None = None
    class_names: list[str] = Field(default_factory=list)
    num_classes: int | None = None
    train_size: int = 0
    val_size: int = 0
    test_size: int = 0
    total_size: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class HyperparameterRun(Row):
    """A row of ``hyperparameter_runs``: a search whose trials are training sessions."""

    id: UUID
    owner_id: UUID | None = None
    name: str | None = None
    model_type: str | None = None
    dataset_name: str | None = None
    search_space: dict[str, Any] = Field(default_factory=dict)
    objective: str = "map50_95"
    direction: str = "maximize"
    n_trials: int | None = None
    status: str = "running"
    trials_started: int = 0
    trials_completed: int = 0
    best_session_id: UUID | None = None
    best_value: float | None = None
    best_params: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None


class ActiveSession(Row):
    """A row of the view ``active_training_sessions``: a running session and its latest epoch."""

    id: UUID
    session_name: str | None = None
    model_type: str | None = None
    dataset_name: str | None = None
    status: SessionStatus = "running"
    owner_id: UUID | None = None
    epochs: int | None = None
    batch_size: int | None = None
    img_size: int | None = None
    current_epoch: int | None = None
    epochs_completed: int = 0
    progress_percent: float | None = None
    started_at: datetime | None = None
    elapsed_seconds: float | None = None
    eta_seconds: float | None = None
    last_heartbeat_at: datetime | None = None
    heartbeat_age_seconds: float | None = None
    stop_requested: bool = False
    best_epoch: int | None = None
    best_map50: float | None = None
    best_map50_95: float | None = None
    latest_epoch: int | None = None
    box_loss: float | None = None
    cls_loss: float | None = None
    dfl_loss: float | None = None
    total_loss: float | None = None
    precision: float | None = None
    recall: float | None = None
    map50: float | None = None
    map50_95: float | None = None
    learning_rate: float | None = None
    epoch_time_seconds: float | None = None
    gpu_memory_mb: float | None = None
    latest_metrics_at: datetime | None = None
    hardware_info: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None


class SessionSummary(Row):
    """A row of the view ``training_performance_summary``: a session with its summary."""

    id: UUID
    session_name: str | None = None
    model_type: str | None = None
    dataset_name: str | None = None
    dataset_id: UUID | None = None
    owner_id: UUID | None = None
    status: SessionStatus = "pending"
    status_reason: str | None = None
    epochs: int | None = None
    epochs_completed: int = 0
    current_epoch: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    img_size: int | None = None
    best_epoch: int | None = None
    best_map50: float | None = None
    best_map50_95: float | None = None
    final_map50: float | None = None
    final_map50_95: float | None = None
    final_precision: float | None = None
    final_recall: float | None = None
    final_loss: float | None = None
    min_total_loss: float | None = None
    avg_epoch_time_seconds: float | None = None
    max_gpu_memory_mb: float | None = None
    best_inference_ms: float | None = None
    best_fps: float | None = None
    duration_seconds: float | None = None
    efficiency_score: float | None = None
    model_path: str | None = None
    hyperparameter_run_id: UUID | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class LeaderboardEntry(Row):
    """A row of the view ``models_leaderboard``: a completed model and its rank by mAP50-95."""

    rank: int
    id: UUID
    session_name: str | None = None
    model_type: str | None = None
    dataset_name: str | None = None
    owner_id: UUID | None = None
    final_map50_95: float | None = None
    final_map50: float | None = None
    final_precision: float | None = None
    final_recall: float | None = None
    final_loss: float | None = None
    best_epoch: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    img_size: int | None = None
    inference_ms: float | None = None
    fps: float | None = None
    training_duration_seconds: float | None = None
    model_path: str | None = None
    completed_at: datetime | None = None
    benchmark_device: str | None = None
    benchmark_device_name: str | None = None


class SessionDetail(Row):
    """One session with everything recorded for it (what :meth:`Client.session` returns)."""

    session: TrainingSession
    #: Ordered by epoch.
    metrics: tuple[EpochMetrics, ...] = ()
    #: Ordered by split, then class (the overall ``"all"`` row among them).
    validation_results: tuple[ValidationResult, ...] = ()
    #: Fastest first.
    benchmarks: tuple[ModelBenchmark, ...] = ()


__all__ = [
    "ActiveSession",
    "EpochMetrics",
    "HyperparameterRun",
    "LeaderboardEntry",
    "ModelBenchmark",
    "SessionDetail",
    "SessionStatus",
    "SessionSummary",
    "TrainingDataset",
    "TrainingSession",
    "ValidationResult",
]
