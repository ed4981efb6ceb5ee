"""Ultralytics without the network: :func:`prepare_offline` (re-exported by
:mod:`mltrack_sdk.integrations.ultralytics`). Imports nothing of ultralytics unless it was
imported already.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import uuid
import warnings
from pathlib import Path
from typing import Any

from mltrack_sdk.config import mltrack_home
from mltrack_sdk.errors import MltrackWarning

#: Ultralytics settings that keep a training from reaching the network: no hub events, no
#: third-party loggers that may upload (they stay off even when their packages are installed).
OFFLINE_SETTINGS: dict[str, Any] = {
    "sync": False,
    "clearml": False,
    "comet": False,
    "dvc": False,
    "mlflow": False,
    "raytune": False,
    "tensorboard": False,
    "wandb": False,
    "vscode_msg": False,
    "openvino_msg": False,
}
#: The fonts Ultralytics' dataset checks and plots ask for (and download when missing).
FONTS = ("Arial.ttf", "Arial.Unicode.ttf")


def prepare_offline(config_dir: Path | str | None = None) -> Path:
    """Set Ultralytics up so that a training downloads nothing; returns its settings directory.

    Sets ``YOLO_OFFLINE=1``, ``YOLO_AUTOINSTALL=0`` and ``YOLO_CONFIG_DIR`` (``config_dir``, else
    ``$YOLO_CONFIG_DIR`` when set, else ``<mltrack home>/ultralytics``), writes
    ``settings.json`` there with ``sync=False`` and the uploading loggers off
    (:data:`OFFLINE_SETTINGS`; other settings kept), and puts the fonts Ultralytics would
    download (``Arial.ttf``, ``Arial.Unicode.ttf``: copies of matplotlib's DejaVuSans) beside it.
    Models must still come from a yaml (``YOLO("yolov8n.yaml")``) or a local weights file, and
    on a GPU pass ``amp=False`` to ``train`` (its AMP check downloads a model).

    Call it **before** ``import ultralytics``: Ultralytics reads these variables and its
    settings once, at import. Called later, it does what still has effect - updates the
    settings in force, puts the fonts in Ultralytics' settings directory, and turns its
    online and auto-install flags off - and warns when that directory is not ``config_dir``.

    Example::

        from mltrack_sdk.integrations.ultralytics import prepare_offline
        prepare_offline()
        from ultralytics import YOLO
    """
    if config_dir is None:
        env = os.environ.get("YOLO_CONFIG_DIR")
        config_dir = Path(env) if env else mltrack_home() / "ultralytics"
    root = Path(config_dir).expanduser().absolute()
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ["YOLO_CONFIG_DIR"] = str(root)
    settings_dir = root / "Ultralytics"
    if "ultralytics.utils" in sys.modules:
        return _prepare_imported(settings_dir)
    settings_dir.mkdir(parents=True, exist_ok=True)
    _write_settings(settings_dir / "settings.json")
    _copy_fonts(settings_dir)
    return settings_dir


def _write_settings(path: Path) -> None:
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError):
        settings = None
    if not isinstance(settings, dict):
        # Ultralytics' schema 0.0.8; under a newer schema it keeps these values and adds its own.
        settings = {
            "settings_version": "0.0.8",
            "datasets_dir": str(path.parent / "datasets"),
            "weights_dir": str(path.parent / "weights"),
            "runs_dir": "runs",
            "uuid": hashlib.sha256(str(uuid.getnode()).encode()).hexdigest(),
            "api_key": "",
            "openai_api_key": "",
        }
    settings.update(OFFLINE_SETTINGS)
    path.write_text(json.dumps(settings, indent=2))


def _copy_fonts(settings_dir: Path) -> None:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return  # no matplotlib: no Ultralytics either, nothing to prepare fonts for
    source = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in FONTS:
        target = settings_dir / name
        if source.is_file() and not target.exists():
            shutil.copyfile(source, target)


def _prepare_imported(settings_dir: Path) -> Path:
    """prepare_offline() after ultralytics was imported: change what is still read later."""
    from ultralytics import utils
    from ultralytics.utils import checks

    in_force = Path(utils.USER_CONFIG_DIR)
    utils.SETTINGS.update(OFFLINE_SETTINGS)
    _copy_fonts(in_force)
    # Read at import into these modules' namespaces; later checks read them there.
    for module in (utils, checks, sys.modules.get("ultralytics.utils.events")):
        if module is not None and hasattr(module, "ONLINE"):
            module.ONLINE = False
    for module in (utils, checks):
        module.AUTOINSTALL = False
    if in_force.absolute() != settings_dir:
        warnings.warn(
            f"prepare_offline() was called after ultralytics was imported: its settings stay in"
            f" {in_force} (offline settings and fonts put there); call it before importing"
            " ultralytics to use another directory",
            MltrackWarning,
            stacklevel=3,
        )
    return in_force
