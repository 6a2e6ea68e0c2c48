"""Worker-side reporters: hardware detection, host agent, Dask integration, SDK, demo.

Importable with httpx and psutil alone so it can be installed on worker hosts; the
Dask modules import `distributed` themselves and nothing else here needs it.
"""
