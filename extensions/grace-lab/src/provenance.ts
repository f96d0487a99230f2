/**
 * The current notebook's provenance: `grace verify --notebook` on the server
 * (POST notebook/verify), run when the current notebook changes or is saved.
 */
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import { INotebookReport, request } from './api';

export class Provenance {
  constructor(private readonly tracker: INotebookTracker) {
    tracker.currentChanged.connect(() => this.watch(tracker.currentWidget), this);
    this.watch(tracker.currentWidget);
  }

  get report(): INotebookReport | null {
    return this._report;
  }

  get error(): string | null {
    return this._error;
  }

  get path(): string | null {
    return this.tracker.currentWidget?.context.path ?? null;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Verify the current notebook as saved on disk. */
  async refresh(): Promise<void> {
    const path = this.path;
    if (!path) {
      this._report = null;
      this._error = null;
      this._changed.emit();
      return;
    }
    try {
      this._report = await request<INotebookReport>('notebook/verify', {
        method: 'POST',
        body: { path }
      });
      this._error = null;
    } catch (error) {
      this._report = null;
      this._error = (error as Error).message;
    }
    this._changed.emit();
  }

  private watch(panel: NotebookPanel | null): void {
    if (this.watched) {
      this.watched.context.saveState.disconnect(this.onSave, this);
    }
    this.watched = panel;
    if (panel) {
      panel.context.saveState.connect(this.onSave, this);
      void panel.context.ready.then(() => this.refresh());
    } else {
      void this.refresh();
    }
  }

  private onSave(_: unknown, state: string): void {
    if (state === 'completed') {
      void this.refresh();
    }
  }

  private watched: NotebookPanel | null = null;
  private _report: INotebookReport | null = null;
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
}

/** One word for the status bar: verified, partly verified, failed, unknown. */
export function verdict(report: INotebookReport | null): { text: string; attention: boolean } {
  if (!report) {
    return { text: '', attention: false };
  }
  if (!report.ledger_ok) {
    return { text: 'ledger FAILED', attention: true };
  }
  const counts = report.counts;
  const verified = counts['verified'] ?? 0;
  const executed = report.cells.length - (counts['not executed'] ?? 0);
  if (report.ok) {
    return { text: `verified ${verified}/${executed}`, attention: false };
  }
  return { text: `unverified ${executed - verified}/${executed}`, attention: true };
}
