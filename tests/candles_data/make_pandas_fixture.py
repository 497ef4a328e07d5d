"""Writes pandas_snappy.parquet: 10 one-minute candles written by pandas with its defaults
(pyarrow engine, snappy compression, dictionary encoding, the pandas index in the metadata).

Values follow a formula the Rust test re-derives by hand, for row i = 0..9:
  ts_ms = 1_700_000_000_000 + 60_000 * i   (2023-11-14T22:13:20Z onwards)
  open = 100 + i, high = open + 0.5, low = open - 0.25, close = open + 0.125, volume = 2 * i
plus an extra `turnover` column (ignored by gridsweep).

Run: python3 make_pandas_fixture.py   (made with pandas 3.1.1, pyarrow 26.0.1)
"""
import pandas as pd

rows = range(10)
df = pd.DataFrame(
    {
        "ts_ms": [1_700_000_000_000 + 60_000 * i for i in rows],
        "open": [100.0 + i for i in rows],
        "high": [100.0 + i + 0.5 for i in rows],
        "low": [100.0 + i - 0.25 for i in rows],
        "close": [100.0 + i + 0.125 for i in rows],
        "volume": [2.0 * i for i in rows],
        "turnover": [1.0 for i in rows],
    }
)
df.to_parquet("pandas_snappy.parquet")
