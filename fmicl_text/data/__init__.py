"""Data: the local data home (standard names -> files), the one reader of data files (``files``) and the
training-data reader."""

from fmicl_text.data.home import (
    ENV_VAR,
    STS_SCORE_RANGES,
    STS_SETS,
    TEXT_VERSIONS,
    TRAIN_CORPORA,
    HubSource,
    TrainCorpus,
    data_home,
    sts_path,
)
from fmicl_text.data.readers import (
    HUB_ID,
    LABEL_COLUMNS,
    PAIR_COLUMNS,
    ROLES,
    SINGLE_COLUMNS,
    SUPPORTED_SUFFIXES,
    TRIPLET_COLUMNS,
    DataReport,
    load_training_data,
)

__all__ = [
    "ENV_VAR",
    "HUB_ID",
    "LABEL_COLUMNS",
    "PAIR_COLUMNS",
    "ROLES",
    "SINGLE_COLUMNS",
    "STS_SCORE_RANGES",
    "STS_SETS",
    "SUPPORTED_SUFFIXES",
    "TEXT_VERSIONS",
    "TRAIN_CORPORA",
    "TRIPLET_COLUMNS",
    "DataReport",
    "HubSource",
    "TrainCorpus",
    "data_home",
    "load_training_data",
    "sts_path",
]
