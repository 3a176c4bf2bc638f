// A circuit breaker for one tenant's calls to one vendor, so a clinic whose Spry or Spruce is
// failing (timeouts, 5xx) stops using workers on it while the other clinics carry on. The states
// and cool-downs are the fan-out's per-endpoint Circuit (fanout/circuit.ts): after
// `failureThreshold` failures in a row nothing goes out for a cool-down that doubles on each
// trip; then one call goes out as a probe and its answer closes or reopens the circuit.
//
// It sits in front of the tenant's rate limiter, which HttpClient asks before every attempt and
// tells every answer: a call refused here takes no rate-limit slot. A 429 is the pacer's
// business and shows the vendor is up; a call the caller aborted says nothing about the vendor.
import type { Clock } from '../clock.ts';
import { SyncError } from '../errors.ts';
import { Circuit, type CircuitOptions, type CircuitState } from '../fanout/circuit.ts';
import type { Permit, Priority, RemoteSystem, RequestLimiter, ResponseObservation } from './types.ts';

export const DEFAULT_BREAKER: CircuitOptions = { failureThreshold: 5, openMs: 10_000, maxOpenMs: 300_000 };

/** What a finished call says about the vendor's health. */
export function callHealth(answer: ResponseObservation, aborted: boolean): 'healthy' | 'failing' | 'silent' {
  if (answer.status === undefined) return aborted ? 'silent' : 'failing';
  return answer.status >= 500 ? 'failing' : 'healthy';
}

export interface CircuitBreakerOptions {
  system: RemoteSystem;
  clock: Clock;
  circuit?: Partial<CircuitOptions>;
  /** Told when the circuit opens or closes (logs, metrics). */
  onChange?: (state: CircuitState) => void;
}

export class CircuitBreaker {
  private readonly circuit: Circuit;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.circuit = new Circuit({ ...DEFAULT_BREAKER, ...options.circuit });
  }

  get state(): CircuitState {
    return this.circuit.current;
  }

  /**
   * Milliseconds until a call may go (0 = now, or a probe may go). No side effect: the job queue
   * asks this before claiming the tenant's work.
   */
  closedIn(): number {
    if (this.circuit.current !== 'open') return 0;
    return Math.max(0, this.circuit.reopensAt - this.options.clock.now());
  }

  /** The limiter, refusing calls while the circuit is open and counting each answer. */
  guard(limiter: RequestLimiter): RequestLimiter {
    return {
      acquire: async (priority: Priority, signal?: AbortSignal): Promise<Permit> => {
        const probe = this.admit();
        let permit: Permit;
        try {
          permit = await limiter.acquire(priority, signal);
        } catch (error) {
          // The probe never went out: the next call may probe instead.
          if (probe) this.circuit.onFailure(this.options.clock.now(), true);
          throw error;
        }
        let settled = false;
        return {
          release: (answer) => {
            if (!settled) {
              settled = true;
              this.settle(callHealth(answer, signal?.aborted ?? false), probe);
            }
            permit.release(answer);
          },
        };
      },
    };
  }

  /** True when this call is the half-open circuit's probe; throws while the circuit is open. */
  private admit(): boolean {
    const now = this.options.clock.now();
    const admission = this.circuit.admit(now);
    if (admission.mode === 'normal') return false;
    if (admission.mode === 'probe') {
      this.circuit.startProbe();
      return true;
    }
    const { system } = this.options;
    throw new SyncError(
      system === 'spry' ? 'SPRY_UNAVAILABLE' : 'SPRUCE_UNAVAILABLE',
      `${system === 'spry' ? 'Spry' : 'Spruce'} calls are held back: its recent calls failed (circuit open)`,
      { retryable: true, retryAfterSeconds: Math.max(1, Math.ceil((admission.until - now) / 1000)) },
    );
  }

  private settle(health: ReturnType<typeof callHealth>, probe: boolean): void {
    const before = this.circuit.current;
    if (health === 'healthy') this.circuit.onSuccess();
    else if (health === 'failing') this.circuit.onFailure(this.options.clock.now(), probe);
    // An aborted probe proved nothing; counting it as failed keeps the circuit from sticking half-open.
    else if (probe) this.circuit.onFailure(this.options.clock.now(), true);
    const after = this.circuit.current;
    if (after !== before && (after === 'open' || after === 'closed')) this.options.onChange?.(after);
  }
}
