//! `gridsweep import`: candle files to Parquet.
