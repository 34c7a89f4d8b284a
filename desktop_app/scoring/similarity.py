"""How close an answer is to a reference text: SQuAD token F1, ROUGE-L and chrF, each 0..1.

The libraries behind ROUGE-L (rouge-score, which loads nltk) and chrF (sacrebleu) are imported on
first use, so that starting the app does not pay for them.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalize(text: str) -> str:
    """SQuAD v1.1's normalize_answer: lowercase, drop ASCII punctuation, the articles a/an/the, extra spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD's token F1: the harmonic mean of token precision and recall after squad_normalize.

    As SQuAD v1.1's f1_score, with one difference taken from its v2.0 script: when either side has no
    tokens left, the score is 1 if both are empty, else 0 (v1.1 gives 0 even for two empty texts).
    """
    predicted = squad_normalize(prediction).split()
    wanted = squad_normalize(reference).split()
    if not predicted or not wanted:
        return float(predicted == wanted)
    same = sum((Counter(predicted) & Counter(wanted)).values())
    if same == 0:
        return 0.0
    precision = same / len(predicted)
    recall = same / len(wanted)
    return 2 * precision * recall / (precision + recall)


# Scripts written without spaces between words: each character is one token, as ROUGE does for CJK.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f"  # kana, CJK, Thai
_TOKEN = re.compile(f"[{_UNSPACED}]|(?:(?![{_UNSPACED}])[^\\W_])+")


class _UnicodeTokenizer:
    """rouge-score's default tokenizer, extended beyond ASCII.

    rouge-score keeps only [a-z0-9] (Russian or Greek text has no tokens at all, and every answer
    would score 0). This one keeps runs of letters and digits of any script, and one token per
    character in scripts without spaces. On ASCII text its tokens are exactly rouge-score's,
    stemmed the same way (Porter, words of more than 3 characters).
    """

    def __init__(self) -> None:
        from nltk.stem import porter

        self._stemmer = porter.PorterStemmer()

    def tokenize(self, text: str) -> list[str]:
        tokens = _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())
        return [self._stemmer.stem(t) if len(t) > 3 and t.isascii() else t for t in tokens]


@lru_cache(maxsize=1)
def _rouge_l_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=_UnicodeTokenizer())


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence of words, stemmed), by rouge-score."""
    return float(_rouge_l_scorer().score(reference, prediction)["rougeL"].fmeasure)


def chrf(prediction: str, reference: str) -> float:
    """Sentence chrF (character 6-grams, beta 2), by sacrebleu, scaled to 0..1."""
    from sacrebleu import sentence_chrf

    return sentence_chrf(prediction, [reference]).score / 100
