// Per-step health numbers, computed on the host from a handful of sums the step returns, plus the
// per-feature "tokens since last fired" counter that defines dead features.
import type { ResolvedSaeConfig } from './sae-config.js';

export interface StepMetrics {
  /** Updates applied so far, this one included. */
  step: number;
  /** Tokens trained on so far, this batch included. */
  tokens: number;
  /** The optimised loss (sae-config.ts LOSS_NORMALISATION), on this batch, before this update. */
  loss: number;
  /** Mean over elements of (x − x̂)². */
  mse: number;
  /** Fraction of variance unexplained: Σ(x − x̂)² / Σ(x − mean_batch x)². */
  fvu: number;
  /** Mean number of active features per token. */
  l0: number;
  /** Mean Σ_i |f_i| per token. */
  l1: number;
  /** Normalised AuxK term before α ('topk'; 0 for 'l1'). */
  auxK: number;
  /** Fraction of features that have not fired for cfg.deadAfterTokens tokens (counting this batch). */
  deadFraction: number;
  /** Fraction of features active on more than cfg.denseThreshold of this batch's tokens. */
  denseFraction: number;
}

/** What a step (reference or ONNX) hands back for the metrics. */
export interface StepSums {
  sumSqErr: number;
  sumSqDev: number;
  l1Sum: number;
  auxNum: number;
  auxDen: number;
  /** Tokens of the batch each feature fired on, [d_sae]. */
  fireCount: ArrayLike<number>;
}

/**
 * Tokens since each feature last fired. Starts at 0 for every feature, so nothing is dead until a
 * full window has passed — a fresh dictionary is not "all dead".
 */
export class FiringTracker {
  readonly tokensSinceFired: Float64Array;

  constructor(readonly dSae: number, readonly deadAfterTokens: number) {
    this.tokensSinceFired = new Float64Array(dSae);
  }

  update(fireCount: ArrayLike<number>, batch: number): void {
    for (let i = 0; i < this.dSae; i++) this.tokensSinceFired[i] = fireCount[i] > 0 ? 0 : this.tokensSinceFired[i] + batch;
  }

  isDead(i: number): boolean {
    return this.tokensSinceFired[i] >= this.deadAfterTokens;
  }

  /** 1 for dead features, 0 for live ones. */
  deadMask(): Uint8Array {
    return Uint8Array.from(this.tokensSinceFired, (t) => (t >= this.deadAfterTokens ? 1 : 0));
  }

  deadIndices(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.dSae; i++) if (this.isDead(i)) out.push(i);
    return out;
  }

  /** Marks features as just fired, e.g. after resampling gave them a fresh direction. */
  reset(indices: Iterable<number>): void {
    for (const i of indices) this.tokensSinceFired[i] = 0;
  }
}

export function stepMetrics(
  sums: StepSums, cfg: ResolvedSaeConfig, batch: number, step: number, tokens: number, tracker: FiringTracker,
): StepMetrics {
  const mse = sums.sumSqErr / (batch * cfg.dIn);
  const l1 = sums.l1Sum / batch;
  const auxK = sums.auxDen > 0 ? sums.auxNum / sums.auxDen : 0;
  let active = 0;
  let dense = 0;
  for (let i = 0; i < cfg.dSae; i++) {
    active += sums.fireCount[i];
    if (sums.fireCount[i] / batch > cfg.denseThreshold) dense++;
  }
  let dead = 0;
  for (let i = 0; i < cfg.dSae; i++) if (tracker.isDead(i)) dead++;
  return {
    step, tokens,
    loss: cfg.arch === 'topk' ? mse + cfg.auxKCoefficient * auxK : mse + cfg.l1Coefficient * l1,
    mse,
    fvu: sums.sumSqDev > 0 ? sums.sumSqErr / sums.sumSqDev : NaN,
    l0: active / batch,
    l1, auxK,
    deadFraction: dead / cfg.dSae,
    denseFraction: dense / cfg.dSae,
  };
}
