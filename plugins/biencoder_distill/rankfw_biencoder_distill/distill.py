"""The ``distill`` trainer: cross-lingual distillation from a frozen English teacher into a student.

Reimers and Gurevych. Making Monolingual Sentence Embeddings Multilingual using Knowledge
Distillation. EMNLP 2020 (embedding MSE); Hinton et al. 2015 (ranking KL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from rankfw.core import InputError, StageContext, Trainer, TrainingInput, read_parallel
from rankfw.models import ModelRef
from rankfw_biencoder_distill.training import TrainConfig

CITATION = (
    "Reimers and Gurevych. Making Monolingual Sentence Embeddings Multilingual using Knowledge "
    "Distillation. EMNLP 2020. Hinton et al. Distilling the Knowledge in a Neural Network. 2015."
)


class DistillConfig(TrainConfig):
    """Optimisation parameters plus the teacher and the weights of the two losses."""

    teacher: ModelRef | None = Field(None, description="the frozen English teacher; None = a frozen copy of the student")
    mse_weight: float = Field(1.0, ge=0, description="weight of the embedding MSE")
    rank_weight: float = Field(1.0, ge=0, description="weight of the ranking-distillation KL")
    candidates: int = Field(8, gt=1, description="at most this many candidates per query in the ranking loss")
    queries_per_batch: int = Field(8, gt=0, description="queries per ranking-distillation batch")
    max_pairs: int | None = Field(None, gt=0, description="at most this many parallel pairs per language")
    max_queries: int | None = Field(None, gt=0, description="at most this many ranking queries per language")
    parallel: str | None = Field(
        None, description="parallel text for languages the dataset has none for: a folder of <lang>.tsv files "
        "(English<TAB>target), e.g. 'stage:NAME' of a translate-train stage (its translations/<lang>.tsv)",
    )


@dataclass
class RankItem:
    """An English query with candidates, and their translations (same order)."""

    query_en: str
    query_tgt: str
    passages_en: list[str]
    passages_tgt: list[str]


def ranking_items(english: list[tuple[str, list[str]]], table: dict[str, str], limit: int) -> list[RankItem]:
    """Rank items from English ``(query, candidate texts)`` whose query and >= 2 candidates translate."""
    items = []
    for query, passages in english:
        if query not in table:
            continue
        pairs = [(p, table[p]) for p in dict.fromkeys(passages) if p in table][:limit]
        if len(pairs) >= 2:
            items.append(RankItem(query, table[query], [p for p, _ in pairs], [t for _, t in pairs]))
    return items


class DistillTrainer(Trainer[DistillConfig]):
    """Student(target) and student(English) pulled to teacher(English); the student's ranking of
    translated candidates pulled to the teacher's ranking of the English ones."""

    Config: ClassVar[type[DistillConfig]] = DistillConfig
    description: ClassVar[str] = "cross-lingual distillation: embedding MSE on parallel text + ranking KL"
    citation: ClassVar[str] = CITATION

    def data(self, inputs: Sequence[TrainingInput], ctx: StageContext) -> tuple[dict[str, list[tuple[str, str]]], dict[str, list[RankItem]], set[str]]:
        """Per target language: parallel pairs ``(english, target)`` and ranking items; and the
        English texts that are queries (embedded with the query prefix, the rest as passages)."""
        cfg = self.config
        english = next((i for i in inputs if i.language == "en"), None)
        english_examples = (
            [(ex.query, [d.text for d in ex.positives + ex.negatives]) for ex in english.examples()] if english else []
        )
        pairs: dict[str, list[tuple[str, str]]] = {}
        ranks: dict[str, list[RankItem]] = {}
        queries = {q for q, _ in english_examples}
        for inp in inputs:
            if inp.language == "en":
                continue
            lang_pairs = inp.parallel_pairs() if inp.has_parallel() else self._folder_pairs(inp.language)
            if not lang_pairs:
                ctx.log(f"{ctx.stage}: {inp.language}: no parallel text, skipped")
                continue
            lang_pairs = without_heldout(lang_pairs, inp)
            pairs[inp.language] = lang_pairs[: cfg.max_pairs] if cfg.max_pairs else lang_pairs
            reverse = {t: e for e, t in lang_pairs}
            own = [(ex.query, [d.text for d in ex.positives + ex.negatives]) for ex in inp.examples()]
            queries.update(reverse[q] for q, _ in own if q in reverse)  # this language's queries, in English
            if cfg.rank_weight > 0 and english_examples:
                ranks[inp.language] = ranking_items(english_examples, dict(lang_pairs), cfg.candidates)
            elif cfg.rank_weight > 0:  # no English training input: map this language's queries back
                ranks[inp.language] = [
                    RankItem(i.query_tgt, i.query_en, i.passages_tgt, i.passages_en)
                    for i in ranking_items(own, reverse, cfg.candidates)
                ]
        if not pairs:
            raise InputError("no non-English language with parallel text (dataset.parallel or params.parallel)", ctx.stage)
        if cfg.max_queries is not None:
            ranks = {lang: items[: cfg.max_queries] for lang, items in ranks.items()}
        queries.update(i.query_en for items in ranks.values() for i in items)
        return pairs, ranks, queries

    def _folder_pairs(self, language: str) -> list[tuple[str, str]]:
        """The pairs of ``language`` in the ``parallel`` folder ([] when it has none)."""
        if self.config.parallel is None:
            return []
        folder = Path(self.config.parallel).expanduser()
        if not folder.is_dir():
            raise InputError("not a folder of <lang>.tsv parallel files", f"{self.config.parallel} (params.parallel)")
        for path in (folder / "translations" / f"{language}.tsv", folder / f"{language}.tsv"):
            if path.is_file():
                return read_parallel(path)
        return []

    def train(self, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        """Distil into every non-English language of ``inputs``; write the student into ``output_dir``."""
        import torch

        from rankfw_biencoder_distill.encoder import embedding_dimension
        from rankfw_biencoder_distill.losses import embedding_mse, ranking_kl
        from rankfw_biencoder_distill.training import Trainable, language_batches, seed_everything

        cfg = self.config
        pairs, ranks, query_texts = self.data(inputs, ctx)
        rng = seed_everything(cfg.seed)
        student = Trainable(cfg, cfg.model, ctx.cache_dir)
        pairs = self._untruncated(pairs, student, ctx)
        teacher = Trainable(cfg, cfg.teacher or cfg.model, ctx.cache_dir)
        if embedding_dimension(teacher.model) != embedding_dimension(student.model):
            raise InputError("the teacher's embedding size differs from the student's", "teacher")
        teacher.model.eval()

        # Teacher vectors of every English text, once (the teacher is frozen).
        en_pairs = {e for lang in pairs.values() for e, _ in lang}
        en_passages = {e for e in en_pairs if e not in query_texts} | {p for items in ranks.values() for i in items for p in i.passages_en}
        en_queries = {i.query_en for items in ranks.values() for i in items} | (en_pairs & query_texts)
        target: dict[str, dict[str, list[Any]]] = {"pair": pairs, "rank": ranks}  # type: ignore[dict-item]
        with ctx.progress(f"{ctx.stage}: teacher", len(en_passages) + len(en_queries)) as bar:
            t_passages = self._teacher_vectors(teacher, sorted(en_passages), teacher.passage_prefix, bar)
            t_queries = self._teacher_vectors(teacher, sorted(en_queries), teacher.query_prefix, bar)
        del teacher

        def make_batches() -> list[tuple[str, list[Any]]]:
            out: list[tuple[str, list[Any]]] = []
            for kind, by_lang in target.items():
                size = cfg.batch_size if kind == "pair" else cfg.queries_per_batch
                out.extend((kind, b) for _, b in language_batches(by_lang, size, rng))  # type: ignore[arg-type]
            rng.shuffle(out)
            return out

        batches = make_batches()
        steps_per_epoch = len(batches)
        opt, sched = student.optimiser(cfg.epochs * steps_per_epoch)
        ctx.log(f"{ctx.stage}: {sum(map(len, pairs.values()))} pairs, {sum(map(len, ranks.values()))} ranking queries")
        student.model.train()
        with ctx.progress(f"{ctx.stage}: distill", cfg.epochs * steps_per_epoch) as bar:
            for epoch in range(cfg.epochs):
                if epoch:
                    batches = make_batches()
                for kind, batch in batches:
                    if kind == "pair":
                        loss = self._pair_loss(student, batch, t_passages, t_queries, embedding_mse, torch)
                    else:
                        loss = self._rank_loss(student, batch, t_passages, t_queries, embedding_mse, ranking_kl, torch)
                    bar.advance(1, loss=round(student.step(loss, opt, sched), 5))
        student.model.eval()
        student.save(output_dir)

    @staticmethod
    def _teacher_vectors(teacher: Any, texts: list[str], prefix: str, bar: Any) -> dict[str, Any]:
        import torch

        out: dict[str, Any] = {}
        with torch.inference_mode():
            for start in range(0, len(texts), 64):
                chunk = texts[start : start + 64]
                vectors = teacher.embed(chunk, prefix).float().cpu()
                out.update(zip(chunk, vectors, strict=True))
                bar.advance(len(chunk))
        return out

    @staticmethod
    def _untruncated(pairs: dict[str, list[tuple[str, str]]], student: Any, ctx: StageContext) -> dict[str, list[tuple[str, str]]]:
        """The pairs whose two sides both fit in ``max_length`` tokens: the cut-off halves of a longer
        pair are not translations of each other, so their embeddings should not be pulled together."""
        limit = student.model.max_seq_length - 8  # room for the prefix and the special tokens
        tokenizer = student.model.tokenizer
        kept: dict[str, list[tuple[str, str]]] = {}
        for lang, items in pairs.items():
            texts = [t for pair in items for t in pair]
            lengths = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=limit + 1)["input_ids"]
            kept[lang] = [pair for n, pair in enumerate(items) if max(len(lengths[2 * n]), len(lengths[2 * n + 1])) <= limit]
            if len(kept[lang]) < len(items):
                ctx.log(f"{ctx.stage}: {lang}: {len(items) - len(kept[lang])} of {len(items)} pairs longer than {limit} tokens skipped")
        return {lang: items for lang, items in kept.items() if items}

    def _pair_loss(self, student: Any, batch: list[tuple[str, str]], t_passages: dict[str, Any], t_queries: dict[str, Any], mse: Any, torch: Any) -> Any:
        """Student(English) and student(target) pulled to teacher(English), queries with the query
        prefix and passages with the passage prefix."""
        cfg = self.config
        losses = []
        for is_query, teacher, prefix in ((True, t_queries, student.query_prefix), (False, t_passages, student.passage_prefix)):
            part = [(e, t) for e, t in batch if (e in t_queries) == is_query]
            if not part:
                continue
            goal = torch.stack([teacher[e] for e, _ in part]).to(student.device)
            both = student.embed([e for e, _ in part] + [t for _, t in part], prefix)
            losses.append(mse(both, torch.cat([goal, goal])) * len(part))
        return cfg.mse_weight * torch.stack(losses).sum() / len(batch)

    def _rank_loss(self, student: Any, batch: list[RankItem], t_passages: dict[str, Any], t_queries: dict[str, Any], mse: Any, kl: Any, torch: Any) -> Any:
        cfg = self.config
        queries = student.embed([i.query_tgt for i in batch] + [i.query_en for i in batch], student.query_prefix)
        flat = [p for i in batch for p in i.passages_tgt]
        passages = student.embed(flat, student.passage_prefix)
        goal_q = torch.stack([t_queries[i.query_en] for i in batch]).to(student.device)
        loss = cfg.mse_weight * mse(queries, torch.cat([goal_q, goal_q]))
        start = 0
        kls = []
        for n, item in enumerate(batch):
            count = len(item.passages_tgt)
            s_scores = passages[start : start + count] @ queries[n]
            t_scores = torch.stack([t_passages[p] for p in item.passages_en]).to(student.device) @ goal_q[n]
            kls.append(kl(s_scores[None], t_scores[None], cfg.temperature))
            start += count
        return loss + cfg.rank_weight * torch.stack(kls).mean()


def without_heldout(pairs: list[tuple[str, str]], inp: TrainingInput) -> list[tuple[str, str]]:
    """The parallel pairs whose target side neither is nor contains a held-out question or one of
    its judged passages (a paragraph holding a held-out sentence goes too): the held-out articles
    stay unseen, so that choices made on them are honest."""
    held = {ex.query for ex in inp.selection_examples} | {
        d.text for ex in inp.selection_examples for d in (*ex.positives, *ex.negatives)
    }
    held.discard("")
    if not held:
        return pairs
    return [(e, t) for e, t in pairs if t not in held and not any(h in t for h in held)]
