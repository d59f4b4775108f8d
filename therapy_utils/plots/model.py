"""Pictures of the model: an unrolled LSTM, padding vs packing, the gates over a course (02_embedding_lstm_model)."""

from __future__ import annotations
