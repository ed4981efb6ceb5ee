"""Integrations of mltrack with training frameworks: one short module per framework.

- :mod:`mltrack_sdk.integrations.ultralytics`: ``track(model)`` for Ultralytics YOLO.
"""
