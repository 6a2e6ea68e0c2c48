"""Dashboard helpers shared by the Streamlit pages: API client, live snapshot, charts, map."""
