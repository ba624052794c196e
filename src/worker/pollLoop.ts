/**
 * The polling loop shared by the notice dispatcher and the payment deliverer: run a round, and
 * unless it found a full batch (more is waiting) sleep `idleMs` — cut short by stop(). A round that
 * throws is reported and the loop goes on: a database blip must not end a worker.
 */
export class PollLoop {
  /** Read by a round in progress: stop after the item in hand and release the rest. */
  stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly o: {
      /** One round; true when busy (a full batch), so the next round starts at once. */
      round: () => Promise<boolean>;
      idleMs: () => number;
      onError: (err: unknown) => void;
    },
  ) {}

  start(): void {
    if (this.loop) return;
    this.stopped = false;
    this.loop = (async () => {
      while (!this.stopped) {
        let busy = false;
        try {
          busy = await this.o.round();
        } catch (err) {
          this.o.onError(err);
        }
        if (!busy && !this.stopped) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, this.o.idleMs());
            this.wake = () => (clearTimeout(t), resolve());
          });
        }
      }
    })();
  }

  /** Ends the loop after the round in progress; true if it was running. */
  async stop(): Promise<boolean> {
    this.stopped = true;
    this.wake?.();
    const running = this.loop !== null;
    await this.loop;
    this.loop = null;
    return running;
  }
}
