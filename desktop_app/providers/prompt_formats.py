"""The prompt formats a local model can be given, and the words front ends use for them.

A GGUF file usually carries its chat template; one without (often a base model, not
instruction-tuned) is given ChatML as a guess unless the user picks a format for it: one of
llama.cpp's built-in templates, or plain completion (the prompt as text, no template).
"""

from __future__ import annotations

COMPLETION = "completion"  # LocalModelSpec.chat_template for a plain text prompt
# What a result's chat_template says when the file had none and ChatML was guessed.
FALLBACK_LABEL = "chatml (fallback: no template in the file)"

BASE_MODEL_WARNING = "no chat template: probably a base model"
BASE_MODEL_ADVICE = ("The file has no chat template, so it is prompted with ChatML, a guess. A base model "
                     "(not instruction-tuned) often answers noise or repeats the prompt. Choose the format "
                     "its model card names, or plain completion, on the Models screen.")


def is_fallback(used: str | None) -> bool:
    """Whether a result's chat_template was the ChatML guess for a file without a template."""
    return bool(used) and "fallback" in used


def describe_choice(choice: str | None, file_has_template: bool) -> str:
    """A chosen format in words: None is the file's own template, or the ChatML fallback."""
    if choice is None:
        return "the file's own template" if file_has_template else "ChatML (fallback)"
    if choice == COMPLETION:
        return "plain completion (no template)"
    return f"{choice} (llama.cpp's built-in template)"
