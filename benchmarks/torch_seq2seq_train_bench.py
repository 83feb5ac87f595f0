"""PyTorch CPU training throughput of an LSTM encoder-decoder trained with truncated BPTT
(stateful chunks): the work `forecastd bench rnn --decoder recurrent` does (issue 13), in the
style of ../shared/bench/torch_rnn_train_bench.py. Each chunk of k steps runs an nn.LSTM
encoder; the encoder's (h, c) at every `stride`-th step, counted back from the chunk's last,
start an nn.LSTMCell decoder loop over the horizon (all origins of the batch side by side),
whose input per step is the previous value (the true one, or with probability `own_share` the
decoder's own detached median: scheduled sampling) plus `future` known features; a Linear head
emits each step's quantiles; MSE over every origin and step, Adam, global-norm clipping at 1.0.
Prints sequence-steps per second (batch x encoder steps trained per second)."""
import sys, time, json, torch


def bench(hidden=64, inputs=5, batch=32, k=64, chunks=40, threads=2, horizon=24, quantiles=3,
          future=4, stride=16, own_share=0.5):
    torch.set_num_threads(threads); torch.manual_seed(0)
    encoder = torch.nn.LSTM(inputs, hidden, 1, batch_first=True)
    decoder = torch.nn.LSTMCell(1 + future, hidden)
    head = torch.nn.Linear(hidden, quantiles)
    params = list(encoder.parameters()) + list(decoder.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    med = quantiles // 2
    n = k * chunks
    x = torch.randn(batch, n, inputs)
    y = torch.randn(batch, n, horizon, quantiles)
    fut = torch.randn(batch, n, horizon, 1 + future)
    # Origins of a chunk: its last step, then every `stride`-th before it.
    origins = list(range(k - 1, -1, -stride))[::-1]

    def run(count):
        state = None
        for c in range(count):
            lo = c * k
            # The encoder read piece by piece up to each origin, keeping (h, c) there.
            hs, cs, start = [], [], 0
            for o in origins:
                _, state = encoder(x[:, lo + start:lo + o + 1], state)
                hs.append(state[0][0]); cs.append(state[1][0])
                start = o + 1
            if start < k:
                _, state = encoder(x[:, lo + start:lo + k], state)
            idx = [lo + o for o in origins]
            h = torch.cat(hs, 0); cc = torch.cat(cs, 0)                         # [O*B, hidden]
            target = y[:, idx].transpose(0, 1).reshape(-1, horizon, quantiles)  # origin-major rows
            block = fut[:, idx].transpose(0, 1).reshape(-1, horizon, 1 + future)
            own = torch.rand(h.shape[0], horizon) < own_share
            outs, prev = [], None
            for step in range(horizon):
                inp = block[:, step]
                if step > 0:
                    v = torch.where(own[:, step], prev[:, med].detach(), target[:, step - 1, med])
                    inp = torch.cat([(inp[:, 0] + v).unsqueeze(1), inp[:, 1:]], 1)
                h, cc = decoder(inp, (h, cc))
                prev = head(h)
                outs.append(prev)
            loss = torch.nn.functional.mse_loss(torch.stack(outs, 1), target)
            opt.zero_grad(); loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            state = tuple(s.detach() for s in state)

    run(3)
    t = time.perf_counter(); run(chunks); dt = time.perf_counter() - t
    return batch * k * chunks / dt


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hidden", type=int, default=64); ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--tbptt", type=int, default=64); ap.add_argument("--inputs", type=int, default=5)
    ap.add_argument("--horizon", type=int, default=24); ap.add_argument("--quantiles", type=int, default=3)
    ap.add_argument("--future-features", type=int, default=4); ap.add_argument("--decoder-stride", type=int, default=16)
    ap.add_argument("--own-share", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2); ap.add_argument("--chunks", type=int, default=40)
    a = ap.parse_args()
    r = bench(hidden=a.hidden, inputs=a.inputs, batch=a.batch, k=a.tbptt, chunks=a.chunks, threads=a.threads,
              horizon=a.horizon, quantiles=a.quantiles, future=a.future_features, stride=a.decoder_stride,
              own_share=a.own_share)
    print(json.dumps({"cell": "lstm", "decoder": "recurrent", "hidden": a.hidden, "batch": a.batch, "threads": a.threads,
                      "horizon": a.horizon, "decoder_stride": a.decoder_stride, "steps_per_s": round(r)}))
