"""Trains the demo transformer on next-token prediction and writes its weights.

Offline, run once; its output (assets/demo/trained-weights.bin and training-log.json) is committed,
so neither the demo nor the tests ever need Python or torch. The architecture is the one
core/demo/transformer-builder.ts writes as ONNX (pre-LayerNorm blocks, ReLU MLP, learned
positions, TransformerLens layouts); the TypeScript builder puts these weights into that graph.

    node dist/scripts/export-demo-training-tokens.js          # tokens.u16 + tokens.json
    python scripts/train-demo-transformer.py [--steps 1000]   # needs torch and numpy

Weights are float32 little-endian, concatenated in the order of TRAINED_WEIGHT_ORDER in
transformer-builder.ts (the same order as below); training-log.json records the shapes.
"""

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

LAYER_NORM_EPSILON = 1e-5


def log(event, **fields):
    print(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "info",
                      "component": "train-demo-transformer", "event": event, **fields}), flush=True)


class DemoTransformer(torch.nn.Module):
    def __init__(self, vocab, d_model, n_heads, d_head, d_mlp, n_layers, max_positions):
        super().__init__()
        self.n_heads, self.d_head, self.n_layers = n_heads, d_head, n_layers

        def param(*shape, std=0.02):
            return torch.nn.Parameter(torch.randn(*shape) * std)

        def ones(n):
            return torch.nn.Parameter(torch.ones(n))

        def zeros(*shape):
            return torch.nn.Parameter(torch.zeros(*shape))

        # Names and layouts exactly as transformer-builder.ts's weightSpecs, in the same order.
        # (Module attribute names cannot hold dots, so the parameters register under mangled names.)
        self.weights = {}
        w = self.weights
        w["embed.W_E"] = param(vocab, d_model, std=0.1)
        w["pos_embed.W_pos"] = param(max_positions, d_model, std=0.02)
        for layer in range(n_layers):
            b = f"blocks.{layer}"
            w[f"{b}.ln1.w"] = ones(d_model)
            w[f"{b}.ln1.b"] = zeros(d_model)
            for p in "QKV":
                w[f"{b}.attn.W_{p}"] = param(n_heads, d_model, d_head, std=1 / math.sqrt(d_model))
                w[f"{b}.attn.b_{p}"] = zeros(n_heads, d_head)
            w[f"{b}.attn.W_O"] = param(n_heads, d_head, d_model, std=1 / math.sqrt(n_heads * d_head))
            w[f"{b}.attn.b_O"] = zeros(d_model)
            w[f"{b}.ln2.w"] = ones(d_model)
            w[f"{b}.ln2.b"] = zeros(d_model)
            w[f"{b}.mlp.W_in"] = param(d_model, d_mlp, std=1 / math.sqrt(d_model))
            w[f"{b}.mlp.b_in"] = zeros(d_mlp)
            w[f"{b}.mlp.W_out"] = param(d_mlp, d_model, std=1 / math.sqrt(d_mlp))
            w[f"{b}.mlp.b_out"] = zeros(d_model)
        w["ln_final.w"] = ones(d_model)
        w["ln_final.b"] = zeros(d_model)
        w["unembed.W_U"] = param(d_model, vocab, std=1 / math.sqrt(d_model))
        w["unembed.b_U"] = zeros(vocab)
        for name, p in w.items():
            self.register_parameter(name.replace(".", "__"), p)

    def forward(self, ids):
        w = self.weights
        seq = ids.shape[1]
        resid = w["embed.W_E"][ids] + w["pos_embed.W_pos"][:seq]
        mask = torch.triu(torch.ones(seq, seq, dtype=torch.bool), diagonal=1)
        for layer in range(self.n_layers):
            b = f"blocks.{layer}"
            x = F.layer_norm(resid, resid.shape[-1:], w[f"{b}.ln1.w"], w[f"{b}.ln1.b"], LAYER_NORM_EPSILON)
            q, k, v = (torch.einsum("bsd,hde->bhse", x, w[f"{b}.attn.W_{p}"]) + w[f"{b}.attn.b_{p}"][:, None, :]
                       for p in "QKV")
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)
            pattern = scores.masked_fill(mask, float("-inf")).softmax(-1)
            z = (pattern @ v).transpose(1, 2).reshape(ids.shape[0], seq, -1)
            resid = resid + z @ w[f"{b}.attn.W_O"].reshape(-1, resid.shape[-1]) + w[f"{b}.attn.b_O"]
            x = F.layer_norm(resid, resid.shape[-1:], w[f"{b}.ln2.w"], w[f"{b}.ln2.b"], LAYER_NORM_EPSILON)
            resid = resid + torch.relu(x @ w[f"{b}.mlp.W_in"] + w[f"{b}.mlp.b_in"]) @ w[f"{b}.mlp.W_out"] + w[f"{b}.mlp.b_out"]
        x = F.layer_norm(resid, resid.shape[-1:], w["ln_final.w"], w["ln_final.b"], LAYER_NORM_EPSILON)
        return x @ w["unembed.W_U"] + w["unembed.b_U"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", default=".thresher/demo-training")
    parser.add_argument("--out", default="assets/demo")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32, help="contexts per step")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    meta = json.load(open(os.path.join(args.tokens, "tokens.json")))
    config = meta["model"]
    tokens = np.fromfile(os.path.join(args.tokens, "tokens.u16"), dtype="<u2").astype(np.int64)
    tokens = torch.from_numpy(tokens.reshape(meta["contexts"], meta["contextLength"]))
    held_out = tokens[-64:]
    train = tokens[:-64]

    model = DemoTransformer(config["vocabSize"], config["dModel"], config["nHeads"], config["dHead"], config["dMlp"],
                            config.get("nLayers", 1), config["maxPositions"])
    decay = [p for n, p in model.weights.items() if p.dim() > 1]
    no_decay = [p for n, p in model.weights.items() if p.dim() <= 1]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.98))
    warmup = max(1, args.steps // 20)

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return args.lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, args.steps - warmup)))

    def loss_of(batch):
        logits = model(batch[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))

    generator = torch.Generator().manual_seed(args.seed)
    curve = []
    started = time.time()
    for step in range(args.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        batch = train[torch.randint(0, train.shape[0], (args.batch,), generator=generator)]
        loss = loss_of(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 25 == 0 or step == args.steps - 1:
            with torch.no_grad():
                held = loss_of(held_out).item()
            curve.append({"step": step, "loss": round(loss.item(), 4), "heldOutLoss": round(held, 4)})
            log("step", step=step, of=args.steps, loss=round(loss.item(), 4), heldOutLoss=round(held, 4),
                seconds=round(time.time() - started, 1))

    # One held-out context and the loss torch gives it, so a test can check that the ONNX graph the
    # TypeScript builder writes around these weights computes the same function.
    check_ids = held_out[0, :65]
    with torch.no_grad():
        check_loss = loss_of(check_ids[None]).item()

    os.makedirs(args.out, exist_ok=True)
    weights_path = os.path.join(args.out, "trained-weights.bin")
    shapes = []
    with open(weights_path + ".tmp", "wb") as f:
        for name, p in model.weights.items():
            f.write(p.detach().numpy().astype("<f4").tobytes())
            shapes.append({"name": name, "shape": list(p.shape)})
    os.replace(weights_path + ".tmp", weights_path)
    training_log = {
        "objective": "next-token cross-entropy",
        "tokens": {"contexts": meta["contexts"], "contextLength": meta["contextLength"], "corpusSeed": meta["seed"],
                   "docs": meta["docs"], "heldOutContexts": held_out.shape[0]},
        "steps": args.steps, "batchContexts": args.batch, "tokensSeen": args.steps * args.batch * (meta["contextLength"] - 1),
        "optimizer": {"name": "AdamW", "lr": args.lr, "betas": [0.9, 0.98], "weightDecay": 0.01, "schedule": "linear warmup, cosine decay",
                      "warmupSteps": warmup, "gradClip": 1.0},
        "seed": args.seed, "torch": torch.__version__, "seconds": round(time.time() - started, 1),
        "weights": shapes, "curve": curve,
        "check": {"ids": check_ids.tolist(), "meanNextTokenLoss": check_loss},
    }
    with open(os.path.join(args.out, "training-log.json"), "w") as f:
        json.dump(training_log, f, indent=2)
        f.write("\n")
    log("done", weights=weights_path, finalLoss=curve[-1]["loss"], heldOutLoss=curve[-1]["heldOutLoss"],
        seconds=training_log["seconds"])


if __name__ == "__main__":
    main()
