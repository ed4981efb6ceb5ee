"""mltrack's live training dashboard (Streamlit): ``mltrack dashboard`` serves ``app.py``.

- :mod:`dashboard.data`: plain data functions (reads through ``mltrack_sdk.Client``, shaping);
- :mod:`dashboard.store`: the in-process store one change feed keeps current;
- :mod:`dashboard.components`: ``training_metrics_chart``, ``model_leaderboard``,
  ``training_session_details`` for apps of your own;
- :mod:`dashboard.charts`: the Altair charts; :mod:`dashboard.views`: one module per tab.
"""
