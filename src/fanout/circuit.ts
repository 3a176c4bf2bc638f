// A circuit breaker per endpoint, so a failing endpoint is not hammered:
//   closed     deliveries go out normally
//   open       after `failureThreshold` failures in a row: nothing goes out for a cool-down
//              that doubles on every trip (`openMs`, 2·openMs, … up to `maxOpenMs`)
//   half-open  when the cool-down ends: one delivery goes out as a probe; success closes the
//              circuit (and the backlog is made due at once), failure opens it again
// Probe failures do not use up the probed delivery's retry schedule: an outage costs no event.

export interface CircuitOptions {
  failureThreshold: number;
  openMs: number;
  maxOpenMs: number;
}

export type CircuitState = 'closed' | 'open' | 'half_open';

/** What may be sent now: `normal` (as many as allowed), one `probe`, or nothing until `until`. */
export type Admission = { mode: 'normal' } | { mode: 'probe' } | { mode: 'wait'; until: number };

export class Circuit {
  private state: CircuitState = 'closed';
  private consecutive: number;
  private trips = 0;
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly options: CircuitOptions,
    /** Failures in a row already recorded (after a restart): at the threshold, start with a probe. */
    consecutiveFailures = 0,
  ) {
    this.consecutive = consecutiveFailures;
    if (consecutiveFailures >= options.failureThreshold) {
      this.state = 'open';
      this.trips = 1;
    }
  }

  get current(): CircuitState {
    return this.state;
  }

  /** When an open circuit lets the next probe go. */
  get reopensAt(): number {
    return this.openUntil;
  }

  admit(now: number): Admission {
    if (this.state === 'closed') return { mode: 'normal' };
    if (this.state === 'open' && now < this.openUntil) return { mode: 'wait', until: this.openUntil };
    this.state = 'half_open';
    if (this.probing) return { mode: 'wait', until: now + this.options.openMs };
    return { mode: 'probe' };
  }

  /** A probe is going out (only one at a time). */
  startProbe(): void {
    this.probing = true;
  }

  /** True when this success closed a circuit that was open or half-open (a recovery). */
  onSuccess(): boolean {
    const recovered = this.state !== 'closed';
    this.state = 'closed';
    this.consecutive = 0;
    this.trips = 0;
    this.probing = false;
    return recovered;
  }

  onFailure(now: number, wasProbe: boolean): void {
    this.consecutive += 1;
    if (wasProbe) this.probing = false;
    if (this.state === 'open' && !wasProbe) return; // a late answer of a request sent before the trip
    if (this.state === 'half_open' || this.consecutive >= this.options.failureThreshold) {
      this.trips += 1;
      this.state = 'open';
      const coolDown = Math.min(this.options.maxOpenMs, this.options.openMs * 2 ** Math.min(30, this.trips - 1));
      this.openUntil = now + coolDown;
    }
  }

  /** Back to closed (an operator re-enabled the endpoint). */
  reset(): void {
    this.onSuccess();
  }
}
