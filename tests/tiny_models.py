"""Tiny real models for tests: one builder per task type, each saving a complete Hugging Face
model folder (config.json, model.safetensors, tokenizer or image processor files) of a few
kilobytes with `save_pretrained`, built offline (no Hub) and seeded, so the same call always
gives the same weights and the same outputs.

    from tests.tiny_models import build_text_classifier
    build_text_classifier(tmp_path / "model", ["neg", "pos"])

Every text model shares one small WordPiece vocabulary (`VOCABULARY` plus letters, so any
lowercase ASCII word tokenizes) built with the `tokenizers` library and wrapped in
`PreTrainedTokenizerFast`. The weights are drawn with a large initializer range so that outputs
differ from row to row (a default-initialised tiny model predicts one class everywhere).

`sample_texts`, `sample_words` and `png_bytes` make matching inputs; `write_predict_py` turns a
folder into a custom-code model (docs/sandbox.md).
"""

from __future__ import annotations

import io
import random
import string
import textwrap
from collections.abc import Sequence
from pathlib import Path

_WORDS = (
    "the a an of and to in is was it that this for on with as at by from be not no yes "
    "good bad great terrible fine movie film plot acting story cat dog sat mat city river "
    "paris london berlin rome alice bob carol dave who what where when which how many "
    "capital born lives works near big small red blue green one two three four five"
)
VOCABULARY = _WORDS.split()

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
T5_SPECIALS = ["<pad>", "</s>", "<unk>"]
GPT2_SPECIALS = ["<|endoftext|>", "<unk>"]


def _vocab(specials: Sequence[str]) -> dict[str, int]:
    tokens = list(specials) + VOCABULARY + list(string.ascii_lowercase) + list(string.digits)
    tokens += ["##" + c for c in string.ascii_lowercase + string.digits]
    tokens += list(".,?!'-")
    seen: dict[str, int] = {}
    for token in tokens:
        seen.setdefault(token, len(seen))
    return seen


def build_tokenizer(style: str = "bert", model_max_length: int = 64):
    """A fast WordPiece tokenizer over the shared vocabulary: `style` "bert" (lowercase,
    `[CLS] a [SEP] b [SEP]` with token type ids), "t5" (`a </s>`) or "gpt2" (no special tokens
    added; `<|endoftext|>` as end and padding token)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = {"bert": BERT_SPECIALS, "t5": T5_SPECIALS, "gpt2": GPT2_SPECIALS}[style]
    vocab = _vocab(specials)
    unk = "[UNK]" if style == "bert" else "<unk>"
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token=unk, max_input_chars_per_word=50))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    if style == "bert":
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )
        names = dict(
            pad_token="[PAD]",
            unk_token="[UNK]",
            cls_token="[CLS]",
            sep_token="[SEP]",
            mask_token="[MASK]",
        )
    elif style == "t5":
        tok.post_processor = processors.TemplateProcessing(
            single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", vocab["</s>"])]
        )
        names = dict(pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    else:
        names = dict(
            bos_token="<|endoftext|>",
            eos_token="<|endoftext|>",
            pad_token="<|endoftext|>",
            unk_token="<unk>",
        )
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=model_max_length, **names)


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _save(model, tokenizer_or_processor, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(folder)
    tokenizer_or_processor.save_pretrained(folder)
    return folder


def _bert_config(num_labels: int, *, layers=1, hidden=16, heads=2, intermediate=32, **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=len(_vocab(BERT_SPECIALS)),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=128,
        num_labels=num_labels,
        initializer_range=0.5,
        pad_token_id=0,
        **extra,
    )


def _label_maps(labels: Sequence[str]) -> dict:
    return {
        "id2label": dict(enumerate(labels)),
        "label2id": {name: i for i, name in enumerate(labels)},
    }


def build_text_classifier(
    folder: str | Path,
    labels: Sequence[str] = ("neg", "pos"),
    *,
    seed: int = 0,
    layers: int = 1,
    hidden: int = 16,
    heads: int = 2,
    intermediate: int = 32,
    max_length: int = 64,
) -> Path:
    """A BERT sequence classifier whose `config.id2label` names `labels` (pass names that are
    not the benchmark's, or `LABEL_0`…, to get class indices from the runner). The size
    arguments make bigger ones for benchmarks (bench/sandbox.py)."""
    from transformers import BertForSequenceClassification

    _seed(seed)
    config = _bert_config(
        len(labels),
        layers=layers,
        hidden=hidden,
        heads=heads,
        intermediate=intermediate,
        **_label_maps(labels),
    )
    config.max_position_embeddings = max(128, max_length)
    model = BertForSequenceClassification(config)
    return _save(model, build_tokenizer("bert", max_length), folder)


def build_regressor(folder: str | Path, *, seed: int = 0) -> Path:
    """A BERT sequence classifier with one output (`num_labels=1`): a regression model."""
    from transformers import BertForSequenceClassification

    _seed(seed)
    model = BertForSequenceClassification(_bert_config(1, problem_type="regression"))
    return _save(model, build_tokenizer("bert"), folder)


def build_token_classifier(
    folder: str | Path,
    tags: Sequence[str] = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC"),
    *,
    seed: int = 0,
) -> Path:
    """A BERT token classifier tagging with `tags` (its `config.id2label`)."""
    from transformers import BertForTokenClassification

    _seed(seed)
    model = BertForTokenClassification(_bert_config(len(tags), **_label_maps(tags)))
    return _save(model, build_tokenizer("bert"), folder)


def build_question_answerer(folder: str | Path, *, seed: int = 0, max_length: int = 64) -> Path:
    """A BERT extractive question-answering model (start and end logits); its tokenizer's
    `model_max_length` is `max_length`, so contexts longer than that are read in windows."""
    from transformers import BertForQuestionAnswering

    _seed(seed)
    model = BertForQuestionAnswering(_bert_config(2))
    return _save(model, build_tokenizer("bert", max_length), folder)


def build_seq2seq_generator(folder: str | Path, *, seed: int = 0) -> Path:
    """A T5 encoder-decoder (`config.is_encoder_decoder`), for text generation."""
    from transformers import T5Config, T5ForConditionalGeneration

    _seed(seed)
    tokenizer = build_tokenizer("t5")
    config = T5Config(
        vocab_size=len(_vocab(T5_SPECIALS)),
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        initializer_factor=8.0,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        tie_word_embeddings=False,
    )
    model = T5ForConditionalGeneration(config)
    return _save(model, tokenizer, folder)


def build_causal_generator(folder: str | Path, *, seed: int = 0) -> Path:
    """A GPT-2 decoder-only language model, for text generation (the prompt is stripped)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    _seed(seed)
    config = GPT2Config(
        vocab_size=len(_vocab(GPT2_SPECIALS)),
        n_positions=128,
        n_embd=16,
        n_layer=1,
        n_head=2,
        n_inner=32,
        initializer_range=0.5,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    model = GPT2LMHeadModel(config)
    return _save(model, build_tokenizer("gpt2"), folder)


def build_image_classifier(
    folder: str | Path, labels: Sequence[str] = ("cat", "dog", "bird"), *, seed: int = 0
) -> Path:
    """A ViT image classifier on 32×32 images (8×8 patches) with its image processor saved
    (resize to 32×32, rescale, normalise), whose `config.id2label` names `labels`."""
    from transformers import ViTConfig, ViTForImageClassification
    from transformers.models.vit import ViTImageProcessorPil

    _seed(seed)
    config = ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        initializer_range=0.5,
        **_label_maps(labels),
    )
    model = ViTForImageClassification(config)
    processor = ViTImageProcessorPil(size={"height": 32, "width": 32})
    return _save(model, processor, folder)


def write_predict_py(folder: str | Path, source: str) -> Path:
    """Writes `predict.py` (dedented) at the root of a model folder, making it a custom-code
    model: the runner calls its `predict(rows, model_dir)` instead of the built-in loaders."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "predict.py"
    path.write_text(textwrap.dedent(source))
    return path


def sample_words(n: int, *, seed: int = 0, lo: int = 1, hi: int = 12) -> list[list[str]]:
    """n word lists of lo..hi words drawn from the vocabulary (token classification inputs)."""
    rng = random.Random(seed)
    return [rng.choices(VOCABULARY, k=rng.randint(lo, hi)) for _ in range(n)]


def sample_texts(n: int, *, seed: int = 0, lo: int = 1, hi: int = 12) -> list[str]:
    """n texts of lo..hi vocabulary words, of varying length."""
    return [" ".join(words) for words in sample_words(n, seed=seed, lo=lo, hi=hi)]


def png_bytes(seed: int, size: tuple[int, int] = (40, 30)) -> bytes:
    """A small PNG of random pixels (deterministic for a seed)."""
    from PIL import Image

    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, data).save(buffer, format="PNG")
    return buffer.getvalue()
