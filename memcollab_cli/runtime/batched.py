"""The batched embedded engine: several chat requests decoded together in one llama.cpp context.

`BatchedLlamaModel` runs up to `parallel` sequences at once through llama-cpp-python's low-level
API (`llama_batch` + `llama_decode`), one KV stream per sequence (`kv_unified=False`) and flash
attention on: the combination that measured fastest at 8 sequences for qwen2.5-coder-0.5b on a
2-core CPU (`bench/README.md` has the figures). On a GPU build the same code offloads.

How a step works (continuous batching, no lockstep rounds):

- `submit(request)` formats the chat prompt exactly as `LlamaModel` does (`_chat_prompt`), queues
  it and returns a ticket.
- `step()` admits queued requests into free slots in ticket order, then calls `llama_decode` on one
  batch holding one token for every generating sequence plus the prompt tokens of newly admitted
  ones (chunked to `n_batch`), picks the next token of each (argmax at temperature 0, a seeded
  llama.cpp sampler otherwise), and repeats until at least one request finishes; it returns the
  finished ones in ticket order. A finished slot is refilled at the next step.
- Prefix reuse per slot: a slot keeps the KV of its last sequence. A new request goes to the free
  slot whose cached tokens share the longest prefix with its prompt (lowest slot on ties), and only
  the rest of the prompt is evaluated; `Completion.cached_tokens` says how many were reused. The
  fixed system prompt, and a follow-up turn's whole history, are then nearly free.

Determinism: batch composition at every step depends only on the submitted requests and their
order, never on timing, so the same requests in the same order give the same outputs run after
run. They are *not* token-identical to one-at-a-time decoding (float sums differ with the batch
shape and near-tied logits flip), which is why the batch size is part of a run's recorded params.

Requests with a `json_schema` (grammar-constrained: labelling, the summarizer's constraints) are
batched like the rest, with a llama.cpp sampler chain per request: the schema's grammar, then
argmax among the tokens it allows (`LlamaModel`'s chain at temperature 0). A summarizer's JSON
turn thus reuses the KV of its analysis turn, which the sequential engine evaluated again from
the start. Temperature > 0 uses llama.cpp's temperature + seeded `dist` sampler per request; its
draws are reproducible but not the same as `LlamaModel`'s (whose sampler chain differs in order).

Thread safety: one lock serialises every public method; drive it from one thread (the driver in
`agent/driver.py` does). Left out: speculative decoding, sharing a prefix across busy slots
(`llama_memory_seq_cp` copies whole streams when KV is not unified), streaming, embeddings.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections import deque
from pathlib import Path

from memcollab_cli.errors import ModelError
from memcollab_cli.runtime._batch_state import Seq, Slot
from memcollab_cli.runtime._chat_prompt import chat_prompt
from memcollab_cli.runtime.base import Completion, Request
from memcollab_cli.runtime.llama import LlamaModel, _lcp


class BatchedLlamaModel:
    """A local GGUF model decoding up to `parallel` requests at once (see the module docstring)."""

    engine = "llama-batched"

    def __init__(self, path: str | Path, *, parallel: int = 8, name: str | None = None,
                 n_ctx: int = 4096, gpu_layers: int | None = None, chat_format: str | None = None,
                 n_threads: int | None = None, n_threads_batch: int | None = None,
                 n_batch: int = 2048, n_ubatch: int = 512, seed: int = 42, flash_attn: bool = True,
                 kv_unified: bool = False, verbose: bool = False):
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        # The sequential engine loads the weights and owns the chat formatting and the grammars.
        self.single = LlamaModel(path, name=name, n_ctx=n_ctx, gpu_layers=gpu_layers,
                                 chat_format=chat_format, n_threads=n_threads,
                                 n_threads_batch=n_threads_batch, seed=seed, verbose=verbose)
        self.name = self.single.name
        self.parallel = parallel
        self.n_ctx = n_ctx  # per sequence
        self.n_batch = max(n_batch, parallel)
        self.n_ubatch = min(n_ubatch, self.n_batch)
        self.flash_attn = flash_attn
        self.kv_unified = kv_unified
        self._lock = threading.RLock()
        self._ctx = None
        self._batch = None
        self._slots: list[Slot] = []
        self._queue: deque[Seq] = deque()
        self._next_ticket = 0
        self.steps = 0  # llama_decode calls so far (for benchmarks)

    @property
    def sha256(self) -> str:
        return self.single.sha256

    # -- loading ---------------------------------------------------------------------------

    def load(self):
        """Load the weights (once) and create the multi-sequence context."""
        with self._lock:
            if self._ctx is not None:
                return self._ctx
            import llama_cpp

            llm = self.single.load()
            cp = llama_cpp.llama_context_default_params()
            cp.n_ctx = self.n_ctx * self.parallel  # split evenly: n_ctx tokens per sequence
            cp.n_batch = self.n_batch
            cp.n_ubatch = self.n_ubatch
            cp.n_seq_max = self.parallel
            cp.n_threads = self.single.n_threads
            cp.n_threads_batch = self.single.n_threads_batch
            cp.kv_unified = self.kv_unified
            cp.flash_attn_type = (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if self.flash_attn
                                  else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)
            cp.no_perf = False
            ctx = llama_cpp.llama_init_from_model(llm._model.model, cp)
            if not ctx:
                raise ModelError(f"llama.cpp cannot create a {self.parallel}-sequence context of "
                                 f"{self.n_ctx} tokens each for {self.single.path}; lower "
                                 "--parallel or --n-ctx")
            self._llama_cpp = llama_cpp
            self._ctx = ctx
            self._mem = llama_cpp.llama_get_memory(ctx)
            self._vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
            self._n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
            self._n_ctx_seq = llama_cpp.llama_n_ctx_seq(ctx)
            self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
            self._bos = llama_cpp.llama_vocab_bos(self._vocab)
            self._piece = ctypes.create_string_buffer(256)
            self._slots = [Slot() for _ in range(self.parallel)]
            return ctx

    def close(self) -> None:
        """Free the batch context, then the weights; the model loads again if used afterwards."""
        with self._lock:
            if self._ctx is not None:
                for slot in self._slots:
                    if slot.seq is not None and slot.seq.sampler is not None:
                        self._llama_cpp.llama_sampler_free(slot.seq.sampler)
                for seq in self._queue:
                    if seq.sampler is not None:
                        self._llama_cpp.llama_sampler_free(seq.sampler)
                self._llama_cpp.llama_batch_free(self._batch)
                self._llama_cpp.llama_free(self._ctx)  # before the model it was made from
                self._ctx = self._batch = None
                self._slots, self._queue = [], deque()
            self.single.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- prompt formatting -----------------------------------------------------------------

    def format(self, request: Request) -> tuple[list[int], list[str]]:
        """Prompt tokens and stop strings, exactly as `LlamaModel` would send them."""
        return chat_prompt(self.single.load(), request, self.name)

    # -- the step API (what the driver uses) ------------------------------------------------

    def submit(self, request: Request) -> int:
        """Queue `request`; returns its ticket. `step()` hands back its Completion later."""
        with self._lock:
            self.load()
            ticket = self._next_ticket
            self._next_ticket += 1
            prompt, stops = self.format(request)
            if len(prompt) >= self._n_ctx_seq:
                raise ModelError(f"{self.name}: Requested tokens ({len(prompt)}) exceed context "
                                 f"window of {self._n_ctx_seq} ({self.n_ctx} tokens per sequence); "
                                 "rerun with a larger --n-ctx or a shorter prompt")
            max_tokens = request.max_tokens
            if max_tokens is None or max_tokens <= 0 or max_tokens + len(prompt) >= self._n_ctx_seq:
                max_tokens = self._n_ctx_seq - len(prompt)  # as Llama._create_completion truncates
            seq = Seq(ticket=ticket, request=request, prompt=prompt,
                       stops=[s.encode("utf-8") for s in stops if s], max_tokens=max_tokens,
                       submitted=time.perf_counter())
            if request.temperature > 0 or request.json_schema is not None:
                seq.sampler = self._make_sampler(request)
            self._queue.append(seq)
            return ticket

    def reset(self) -> None:
        """Empty every slot's KV cache, so the next requests meet the state a fresh model has
        (a run that starts with `reset` does not depend on what ran before it)."""
        with self._lock:
            if self.pending():
                raise RuntimeError("reset while requests are in flight")
            if self._ctx is not None:
                self._llama_cpp.llama_memory_clear(self._mem, True)
                for slot in self._slots:
                    slot.kv.clear()
            self.single.reset()

    def pending(self) -> int:
        """Requests submitted and not yet handed back by `step()`."""
        with self._lock:
            return len(self._queue) + sum(s.seq is not None for s in self._slots)

    def step(self) -> list[tuple[int, Completion]]:
        """Decode until at least one request finishes; (ticket, Completion) pairs in ticket order.

        Returns [] when nothing is in flight.
        """
        with self._lock:
            while True:
                self._admit()
                if not any(s.seq is not None for s in self._slots):
                    return []
                done = self._decode_once()
                if done:
                    return sorted(done, key=lambda p: p[0])

    # -- the Model protocol -----------------------------------------------------------------

    def complete(self, request: Request) -> Completion:
        return self.complete_many([request])[0]

    def complete_many(self, requests: list[Request]) -> list[Completion]:
        """All of `requests`, `parallel` at a time with continuous refill, in input order."""
        with self._lock:
            if self.pending():
                raise RuntimeError("complete_many while step() requests are in flight")
            tickets = [self.submit(r) for r in requests]
            results: dict[int, Completion] = {}
            while len(results) < len(tickets):
                finished = self.step()
                if not finished:
                    raise RuntimeError("batched engine stalled with requests outstanding")
                results.update(finished)
            return [results[t] for t in tickets]

    def describe(self) -> dict:
        """Engine facts for run records: the sequential engine's, plus the batch settings."""
        with self._lock:
            self.load()
            facts = self.single.describe()
            facts.update(engine=self.engine, batch=self.parallel, n_ctx=self._n_ctx_seq,
                         n_ctx_total=self._llama_cpp.llama_n_ctx(self._ctx), n_batch=self.n_batch,
                         n_ubatch=self.n_ubatch, flash_attn=self.flash_attn,
                         kv_unified=self.kv_unified, sampling="argmax at temperature 0, else "
                         "llama.cpp temp+dist(seed); a JSON schema's grammar first")
            return facts

    # -- internals --------------------------------------------------------------------------

    def _make_sampler(self, request: Request):
        """A llama.cpp sampler chain for what a plain argmax cannot do: the JSON schema's grammar
        (then argmax among the tokens it allows, as `LlamaModel` at temperature 0), a
        temperature, or both."""
        lc = self._llama_cpp
        chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        if request.json_schema is not None:
            grammar = self.single.grammar(request.json_schema)
            sampler = lc.llama_sampler_init_grammar(self._vocab, grammar._grammar.encode("utf-8"),
                                                    grammar._root.encode("utf-8"))
            if not sampler:
                lc.llama_sampler_free(chain)
                raise ModelError(f"{self.name}: llama.cpp cannot parse the grammar of the JSON "
                                 "schema; simplify the schema (objects, arrays, strings, enums)")
            lc.llama_sampler_chain_add(chain, sampler)
        if request.temperature > 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(request.temperature))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(request.seed & 0xFFFFFFFF))
        else:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
        return chain

    def _admit(self) -> None:
        """Move queued requests into free slots, in ticket order, best prefix match first."""
        while self._queue:
            free = [i for i, s in enumerate(self._slots) if s.seq is None]
            if not free:
                return
            seq = self._queue.popleft()
            # longest shared prefix wins; lowest slot index on ties (max keeps the first)
            best = max(free, key=lambda i: _lcp(self._slots[i].kv, seq.prompt))
            slot = self._slots[best]
            keep = min(_lcp(slot.kv, seq.prompt), len(seq.prompt) - 1)  # last token needs logits
            if not self._llama_cpp.llama_memory_seq_rm(self._mem, best, keep, -1):
                self._llama_cpp.llama_memory_seq_rm(self._mem, best, -1, -1)
                keep = 0
            del slot.kv[keep:]
            seq.slot, seq.cached, seq.pos = best, keep, keep
            seq.todo = seq.prompt[keep:]
            seq.admitted = time.perf_counter()
            slot.seq = seq

    def _decode_once(self) -> list[tuple[int, Completion]]:
        lc, batch = self._llama_cpp, self._batch
        n = 0

        def add(token: int, seq: Seq, logits: bool) -> None:
            nonlocal n
            batch.token[n] = token
            batch.pos[n] = seq.pos
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = seq.slot
            batch.logits[n] = int(logits)
            self._slots[seq.slot].kv.append(token)
            seq.pos += 1
            if logits:
                seq.logit_row = n
            n += 1

        active = [s.seq for s in self._slots if s.seq is not None]
        for seq in active:  # one token for every generating sequence first (slot order)
            seq.logit_row = -1
            if not seq.todo:
                add(seq.out[-1], seq, True)
        for seq in sorted((s for s in active if s.todo), key=lambda s: s.ticket):
            take = min(len(seq.todo), self.n_batch - n)  # prompt chunks fill the rest
            if take <= 0:
                break
            chunk, seq.todo = seq.todo[:take], seq.todo[take:]
            for j, token in enumerate(chunk):
                add(token, seq, not seq.todo and j == take - 1)
        batch.n_tokens = n
        rc = lc.llama_decode(self._ctx, batch)
        self.steps += 1
        if rc != 0:
            raise ModelError(f"{self.name}: llama_decode failed ({rc}) with {n} tokens in the "
                             "batch; lower --parallel or raise --n-ctx")

        done = []
        greedy = self._greedy_tokens(active)
        for seq in active:
            if seq.logit_row < 0:
                continue  # still reading its prompt
            if seq.sampler is not None:
                token = lc.llama_sampler_sample(seq.sampler, self._ctx, seq.logit_row)
            else:
                token = greedy[seq.logit_row]
            reason = None
            if lc.llama_vocab_is_eog(self._vocab, token):
                reason = "stop"
            else:
                seq.out.append(token)
                if seq.stops and self._hit_stop(seq, token):
                    reason = "stop"
                if reason is None and (len(seq.out) >= seq.max_tokens
                                       or seq.pos >= self._n_ctx_seq):
                    reason = "length"
            if reason is not None:
                done.append((seq.ticket, self._finish(seq, reason)))
        return done

    def _greedy_tokens(self, active: list[Seq]) -> dict[int, int]:
        """Batch row -> argmax token for this step's rows, found in one numpy pass.

        `llama_get_logits` holds one row per token that asked for logits, in batch order, so a
        single (rows × vocabulary) view and one argmax replace a view and an argmax per sequence.
        """
        rows = sorted(s.logit_row for s in active if s.logit_row >= 0)
        if not any(s.sampler is None and s.logit_row >= 0 for s in active):
            return {}
        import numpy as np

        logits = np.ctypeslib.as_array(self._llama_cpp.llama_get_logits(self._ctx),
                                       shape=(len(rows), self._n_vocab))
        return dict(zip(rows, logits.argmax(axis=1).tolist(), strict=True))

    def _hit_stop(self, seq: Seq, token: int) -> bool:
        """Whether `seq`'s text now holds a stop string, reading only the newest token's bytes.

        The text is the concatenation of the tokens' pieces, which is what `detokenize` returns
        (less a leading space after a BOS token), so a stop string that was not there before this
        token must end inside its piece: looking at the tail is the same test as the whole text.
        """
        lc = self._llama_cpp
        n = lc.llama_token_to_piece(self._vocab, token, self._piece, len(self._piece), 0, False)
        if n < 0:  # a piece longer than the buffer: rebuild the text the slow way
            seq.text = bytearray(self.single.load().detokenize(seq.out))
        else:
            seq.text += ctypes.string_at(self._piece, n)
        text = seq.text
        if seq.out[0] == self._bos and text[:1] == b" ":
            text = text[1:]  # as detokenize drops it
        tail = max(len(s) for s in seq.stops) + (n if n >= 0 else len(text))
        return any(s in text[-tail:] for s in seq.stops)

    def _finish(self, seq: Seq, reason: str) -> Completion:
        self._slots[seq.slot].seq = None  # its KV stays for prefix reuse
        if seq.sampler is not None:
            self._llama_cpp.llama_sampler_free(seq.sampler)
            seq.sampler = None
        text = self.single.load().detokenize(seq.out, prev_tokens=seq.prompt)
        for s in seq.stops:  # Llama cuts at the first stop string of the list that occurs
            if s in text:
                text = text[: text.index(s)]
                break
        now = time.perf_counter()
        r = seq.request
        return Completion(
            text=text.decode("utf-8", errors="ignore"),
            prompt_tokens=len(seq.prompt),
            completion_tokens=len(seq.out),
            seconds=now - seq.admitted,  # overlaps with the other sequences of the batch
            cached_tokens=seq.cached,
            finish_reason=reason,
            extra={"sampling": {"temperature": r.temperature, "seed": r.seed,
                                "max_tokens": r.max_tokens, "stop": list(r.stop),
                                "batch": self.parallel},
                   "json_schema": r.json_schema is not None,
                   "queued_seconds": round(seq.admitted - seq.submitted, 4)},
        )
