"""The built-in predictors: a Hugging Face model folder loaded with the Auto classes for the
task type, and a `predict(batch)` that turns one batch of inputs into predictions in the format
of prediction files (docs/formats.md). Batches arrive length-sorted; padding is per batch."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from scoring import tasktypes
from scoring.runner.job import Job, ModelError

MAX_ANSWER_TOKENS = 30  # the longest answer span question answering considers, in tokens
QA_MAX_LENGTH = 384  # window length for question answering (or the model's, if shorter)
QA_STRIDE = 128  # overlap of consecutive windows over a long context
UNKNOWN_MAX_LENGTH = 512  # when neither the tokenizer nor the config gives a maximum


def _text(value) -> str:
    return "" if value is None else str(value)


def model_max_length(tokenizer, config) -> int:
    """The longest input the model takes: the tokenizer's `model_max_length` when it is set,
    else the config's position count, else 512."""
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:
        return limit
    for name in ("max_position_embeddings", "n_positions", "max_seq_len"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return min(value, UNKNOWN_MAX_LENGTH)
    return UNKNOWN_MAX_LENGTH


class Predictor:
    """One task type's model. `model` is the torch module (for its parameter count),
    `lengths(columns)` the sort key of each row, `predict(columns)` one batch's predictions."""

    model: torch.nn.Module

    def __init__(self, job: Job, model_dir: str, device: torch.device, dtype: torch.dtype):
        self.job = job
        self.model_dir = model_dir
        self.device = device
        self.dtype = dtype
        self.options = {
            "local_files_only": True,
            "trust_remote_code": job.allow_custom_code,
        }
        self.load()

    # -- loading

    def load(self) -> None:
        raise NotImplementedError

    def _model(self, auto_class, **kwargs):
        extra = {} if self.job.allow_custom_code else {"use_safetensors": True}
        try:
            model = auto_class.from_pretrained(
                self.model_dir, dtype=self.dtype, **self.options, **extra, **kwargs
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelError(f"cannot load the model: {error}") from None
        return model.to(self.device).eval()

    def _tokenizer(self, **kwargs):
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(self.model_dir, **self.options, **kwargs)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelError(f"cannot load the tokenizer: {error}") from None

    def _to_device(self, encoding) -> dict:
        return {key: value.to(self.device) for key, value in encoding.items()}

    # -- running

    def texts(self, columns: dict[str, list]) -> tuple[list[str], list[str] | None]:
        """The first input column, and the others joined as the second text of a pair."""
        names = self.job.input_columns
        first = [_text(v) for v in columns[names[0]]]
        if len(names) == 1:
            return first, None
        second = [
            " ".join(_text(columns[name][i]) for name in names[1:]) for i in range(len(first))
        ]
        return first, second

    def lengths(self, columns: dict[str, list]) -> list[int]:
        first, second = self.texts(columns)
        if second is None:
            return [len(text) for text in first]
        return [len(a) + len(b) for a, b in zip(first, second, strict=True)]

    def predict(self, columns: dict[str, list]) -> list:
        raise NotImplementedError


class SequenceClassifier(Predictor):
    """Text classification (label names when the model's `id2label` names are the benchmark's
    labels, else class indices) and regression (one output, a float)."""

    def load(self) -> None:
        from transformers import AutoModelForSequenceClassification

        self.tokenizer = self._tokenizer()
        self.model = self._model(AutoModelForSequenceClassification)
        config = self.model.config
        self.max_length = model_max_length(self.tokenizer, config)
        if self.job.task_type == tasktypes.REGRESSION:
            if config.num_labels != 1:
                raise ModelError(
                    f"the model has {config.num_labels} outputs; a regression model has one "
                    "(num_labels=1)"
                )
            self.names = None
            return
        id2label = {int(k): v for k, v in (config.id2label or {}).items()}
        names = [id2label.get(i) for i in range(config.num_labels)]
        labels = set(self.job.labels)
        self.names = names if labels and all(name in labels for name in names) else None

    def predict(self, columns):
        first, second = self.texts(columns)
        encoding = self.tokenizer(
            first,
            second,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        logits = self.model(**self._to_device(encoding)).logits.float()
        if self.job.task_type == tasktypes.REGRESSION:
            return logits[:, 0].tolist()
        indices = logits.argmax(-1).tolist()
        return [self.names[i] for i in indices] if self.names else indices


class TokenClassifier(Predictor):
    """One tag per input word: the tag of the word's first sub-token (`word_ids()`). Words cut
    off by truncation, and words with no token, get "O" (or the first tag if there is no "O")."""

    def load(self) -> None:
        from transformers import AutoModelForTokenClassification

        self.tokenizer = self._tokenizer()
        if not getattr(self.tokenizer, "is_fast", False):
            raise ModelError("token classification needs a fast tokenizer (tokenizer.json)")
        self.model = self._model(AutoModelForTokenClassification)
        config = self.model.config
        self.max_length = model_max_length(self.tokenizer, config)
        id2label = {int(k): v for k, v in (config.id2label or {}).items()}
        self.tags = [id2label.get(i, str(i)) for i in range(config.num_labels)]
        self.fallback = "O" if "O" in self.tags else self.tags[0]

    def _words(self, columns) -> list[list[str]]:
        column = columns[self.job.input_columns[0]]
        return [[_text(word) for word in (value or [])] for value in column]

    def lengths(self, columns):
        return [sum(len(w) + 1 for w in words) for words in self._words(columns)]

    def predict(self, columns):
        words = self._words(columns)
        tags = [[self.fallback] * len(row) for row in words]
        nonempty = [i for i, row in enumerate(words) if row]
        if not nonempty:
            return tags
        encoding = self.tokenizer(
            [words[i] for i in nonempty],
            is_split_into_words=True,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        word_ids = [encoding.word_ids(b) for b in range(len(nonempty))]
        predicted = self.model(**self._to_device(encoding)).logits.argmax(-1).tolist()
        for b, row in enumerate(nonempty):
            seen = set()
            for position, word in enumerate(word_ids[b]):
                if word is not None and word not in seen:
                    seen.add(word)
                    tags[row][word] = self.tags[predicted[b][position]]
        return tags


class QuestionAnswerer(Predictor):
    """Extractive question answering: windows of the context (truncation "only_second" with a
    stride), the best span of at most `MAX_ANSWER_TOKENS` tokens inside the context over all
    windows, compared with the null (CLS) score; "" when no span beats it."""

    def load(self) -> None:
        from transformers import AutoModelForQuestionAnswering

        self.tokenizer = self._tokenizer()
        if not getattr(self.tokenizer, "is_fast", False):
            raise ModelError("question answering needs a fast tokenizer (tokenizer.json)")
        self.model = self._model(AutoModelForQuestionAnswering)
        self.max_length = min(QA_MAX_LENGTH, model_max_length(self.tokenizer, self.model.config))
        self.stride = min(QA_STRIDE, self.max_length // 4)
        self.pad_on_right = self.tokenizer.padding_side == "right"

    def _questions(self, questions: list[str]) -> list[str]:
        """Questions cut to half a window, so that every window holds some context."""
        limit = self.max_length // 2
        encoding = self.tokenizer(
            questions, add_special_tokens=False, return_offsets_mapping=True, truncation=False
        )
        cut = []
        for text, ids, offsets in zip(
            questions, encoding["input_ids"], encoding["offset_mapping"], strict=True
        ):
            cut.append(text[: offsets[limit - 1][1]] if len(ids) > limit else text)
        return cut

    def predict(self, columns):
        question_column, context_column = self.job.input_columns
        questions = self._questions([_text(q).lstrip() for q in columns[question_column]])
        contexts = [_text(c) for c in columns[context_column]]
        encoding = self.tokenizer(
            questions,
            contexts,
            truncation="only_second",
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=True,
            return_tensors="pt",
        )
        samples = encoding.pop("overflow_to_sample_mapping").tolist()
        offsets = encoding.pop("offset_mapping").tolist()
        in_context = torch.tensor(
            [[sid == 1 for sid in encoding.sequence_ids(f)] for f in range(len(samples))],
            dtype=torch.bool,
        )
        cls_id = self.tokenizer.cls_token_id
        input_ids = encoding["input_ids"]
        if cls_id is not None and (input_ids == cls_id).any(dim=1).all():
            cls_positions = (input_ids == cls_id).int().argmax(dim=1)
        else:
            cls_positions = torch.zeros(len(samples), dtype=torch.long)

        best: list[tuple[float, int, int] | None] = [None] * len(questions)
        null: list[float | None] = [None] * len(questions)
        step = max(1, self.job.batch_size)
        features = {k: v for k, v in encoding.items()}
        for begin in range(0, len(samples), step):
            part = {k: v[begin : begin + step] for k, v in features.items()}
            output = self.model(**self._to_device(part))
            start = output.start_logits.float().cpu()
            end = output.end_logits.float().cpu()
            for f in range(start.shape[0]):
                feature = begin + f
                sample = samples[feature]
                cls = int(cls_positions[feature])
                null_score = float(start[f, cls] + end[f, cls])
                if null[sample] is None or null_score < null[sample]:
                    null[sample] = null_score
                span = _best_span(start[f], end[f], in_context[feature])
                if span is not None and (best[sample] is None or span[0] > best[sample][0]):
                    score, i, j = span
                    best[sample] = (score, offsets[feature][i][0], offsets[feature][j][1])
        answers = []
        for sample, context in enumerate(contexts):
            found = best[sample]
            if found is None or (null[sample] is not None and found[0] <= null[sample]):
                answers.append("")
            else:
                answers.append(context[found[1] : found[2]])
        return answers


def _best_span(start: torch.Tensor, end: torch.Tensor, allowed: torch.Tensor):
    """The highest start + end score over spans i..j inside `allowed` tokens with
    j - i < MAX_ANSWER_TOKENS: (score, i, j), or None when no token is allowed."""
    length = start.shape[0]
    best = None
    for width in range(min(MAX_ANSWER_TOKENS, length)):
        scores = start[: length - width] + end[width:]
        valid = allowed[: length - width] & allowed[width:]
        if not valid.any():
            continue
        scores = scores.masked_fill(~valid, float("-inf"))
        i = int(scores.argmax())
        score = float(scores[i])
        if best is None or score > best[0]:
            best = (score, i, i + width)
    return best


class Generator(Predictor):
    """Text generation, greedy, at most `max_new_tokens` new tokens: an encoder-decoder model
    (`config.is_encoder_decoder`) with AutoModelForSeq2SeqLM, else a causal language model with
    left padding whose output has the prompt stripped."""

    def load(self) -> None:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

        try:
            config = AutoConfig.from_pretrained(self.model_dir, **self.options)
        except (OSError, ValueError, KeyError) as error:
            raise ModelError(f"cannot load the model's config: {error}") from None
        self.seq2seq = bool(getattr(config, "is_encoder_decoder", False))
        self.tokenizer = self._tokenizer()
        if self.seq2seq:
            self.model = self._model(AutoModelForSeq2SeqLM)
        else:
            self.tokenizer.padding_side = "left"
            if self.tokenizer.pad_token is None:
                if self.tokenizer.eos_token is None:
                    raise ModelError("the tokenizer has neither a padding nor an end token")
                self.tokenizer.pad_token = self.tokenizer.eos_token
            self.model = self._model(AutoModelForCausalLM)
        limit = model_max_length(self.tokenizer, self.model.config)
        new = self.job.max_new_tokens
        self.max_length = limit if self.seq2seq else max(1, limit - new)

    def predict(self, columns):
        first, second = self.texts(columns)
        if second is not None:
            first = [f"{a} {b}" for a, b in zip(first, second, strict=True)]
        encoding = self.tokenizer(
            first,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        encoding.pop("token_type_ids", None)
        output = self.model.generate(
            **self._to_device(encoding),
            max_new_tokens=self.job.max_new_tokens,
            do_sample=False,
            num_beams=1,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        if not self.seq2seq:
            output = output[:, encoding["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(output, skip_special_tokens=True)
        return [text.strip() for text in texts]


class ImageClassifier(Predictor):
    """Image classification from image bytes (PNG, JPEG…; a `{"bytes": …}` struct as Hugging
    Face datasets store images is taken too), converted to RGB and passed through the model's
    image processor; label names as for text classification."""

    def load(self) -> None:
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        try:
            self.processor = AutoImageProcessor.from_pretrained(self.model_dir, **self.options)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelError(f"cannot load the image processor: {error}") from None
        self.model = self._model(AutoModelForImageClassification)
        config = self.model.config
        id2label = {int(k): v for k, v in (config.id2label or {}).items()}
        names = [id2label.get(i) for i in range(config.num_labels)]
        labels = set(self.job.labels)
        self.names = names if labels and all(name in labels for name in names) else None

    def lengths(self, columns):
        return [0] * len(columns[self.job.input_columns[0]])  # keep the given order

    def predict(self, columns):
        from PIL import Image

        images = []
        for value in columns[self.job.input_columns[0]]:
            data = value.get("bytes") if isinstance(value, dict) else value
            if not isinstance(data, (bytes, bytearray)):
                raise ModelError("an image input holds no bytes")
            images.append(Image.open(io.BytesIO(data)).convert("RGB"))
        pixels = self.processor(images=images, return_tensors="pt")["pixel_values"]
        logits = self.model(pixel_values=pixels.to(self.device, self.dtype)).logits.float()
        indices = logits.argmax(-1).tolist()
        return [self.names[i] for i in indices] if self.names else indices


PREDICTORS = {
    tasktypes.TEXT_CLASSIFICATION: SequenceClassifier,
    tasktypes.REGRESSION: SequenceClassifier,
    tasktypes.TOKEN_CLASSIFICATION: TokenClassifier,
    tasktypes.QUESTION_ANSWERING: QuestionAnswerer,
    tasktypes.TEXT_GENERATION: Generator,
    tasktypes.IMAGE_CLASSIFICATION: ImageClassifier,
}


def load_predictor(job: Job, model_dir: str | Path, device, dtype) -> Predictor:
    return PREDICTORS[job.task_type](job, str(model_dir), device, dtype)
