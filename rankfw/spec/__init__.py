"""The pipeline spec: pydantic models, loading YAML with line-numbered errors, planning the stage graph."""

from rankfw.spec.load import fill_language, load_spec, parse_override, parse_spec
from rankfw.spec.model import (
    KIND_TO_COMPONENT,
    STAGE_REF,
    TOPIC_SETS,
    DatasetSpec,
    ExecutorSpec,
    Pipeline,
    PipelineSpec,
    Stage,
    StageSpec,
)

__all__ = [
    "KIND_TO_COMPONENT",
    "STAGE_REF",
    "TOPIC_SETS",
    "DatasetSpec",
    "ExecutorSpec",
    "Pipeline",
    "PipelineSpec",
    "Stage",
    "StageSpec",
    "fill_language",
    "load_spec",
    "parse_override",
    "parse_spec",
]
