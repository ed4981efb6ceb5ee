"""The reference page of ``benchmarks/dashboard_latency.py --floor``: what the dashboard's first
full render shows (the title, the four summary cards, the six tabs, Training History's filters,
sort, page control and a 100-row table of the newest ended sessions), drawn by the plainest
Streamlit script - one query of the database, no store, no change feed. Its first render is what
Streamlit and the browser cost on this machine for that page; the dashboard's own cost is the
difference. Run by the benchmark as ``streamlit run benchmarks/dashboard_floor_app.py`` with
``$MLTRACK_DATABASE_URL`` set.
"""

from __future__ import annotations

import os

import pandas as pd
import psycopg
import streamlit as st

TABS = (
    "Active Training",
    "Training History",
    "Model Leaderboard",
    "Session Details",
    "Compare",
    "Sweeps",
)
CARDS = """
select count(*) filter (where status = 'running'), count(*), max(best_map50_95),
       count(*) filter (where status = 'completed')
  from public.training_sessions
"""
HISTORY = """
select session_name as session, status, model_type as model, dataset_name as dataset,
       started_at as started, completed_at as completed,
       extract(epoch from completed_at - started_at) as "duration (s)",
       epochs_completed as epochs, epochs as planned, best_map50_95 as "mAP50-95",
       best_map50 as "mAP50", final_precision as precision, final_recall as recall,
       status_reason as reason
  from public.training_sessions
 where status in ('completed', 'failed', 'cancelled')
 order by created_at desc
 limit 100
"""

st.set_page_config(page_title="floor", layout="wide")
st.title("📈 mltrack: training dashboard")
with psycopg.connect(os.environ["MLTRACK_DATABASE_URL"]) as conn:
    active, total, best, completed = conn.execute(CARDS).fetchone() or (0, 0, None, 0)
    cursor = conn.execute(HISTORY)
    table = pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description or ()])
with st.container(key="summary-cards", horizontal=True):
    st.metric("Active sessions", active)
    st.metric("Total sessions", f"{total:,}")
    st.metric("Best mAP50-95", f"{best or 0:.3f}")
    st.metric("Completed runs", completed)
tabs = st.tabs(TABS, default="Training History")
with tabs[1]:
    cols = st.columns([3, 3, 3, 3, 1])
    ended = ["completed", "failed", "cancelled"]
    cols[0].multiselect("Status", ended, default=ended)
    cols[1].multiselect("Model type", sorted(set(table["model"])))
    cols[2].multiselect("Dataset", sorted(set(table["dataset"].dropna())))
    cols[3].selectbox("Sort by", ["Newest first", "Best mAP50-95"])
    cols[4].number_input("Page", min_value=1, max_value=100, step=1)
    st.caption(f"Rows 1-100 of {total:,} session(s). Select a row to open its details.")
    st.dataframe(
        table, hide_index=True, placeholder="", on_select="rerun", selection_mode="single-row"
    )
