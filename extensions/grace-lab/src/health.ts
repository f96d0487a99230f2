/** The Health tab: mode, components and recent incidents, from GET health (real data only). */
import { Widget } from '@lumino/widgets';
import { ISignal, Signal } from '@lumino/signaling';

import { IHealth, request } from './api';
import { button, fill, h, when } from './dom';

export const ATTENTION_MODES = new Set(['degraded', 'safe', 'lockdown']);

/** Health as last read; the status bar and the tab share it. */
export class HealthState {
  get health(): IHealth | null {
    return this._health;
  }

  get error(): string | null {
    return this._error;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  async refresh(): Promise<void> {
    try {
      this._health = await request<IHealth>('health');
      this._error = null;
    } catch (error) {
      this._health = null;
      this._error = (error as Error).message;
    }
    this._changed.emit();
  }

  private _health: IHealth | null = null;
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
}

export class HealthTab extends Widget {
  constructor(private readonly state: HealthState) {
    super();
    this.id = 'grace-health';
    this.title.label = 'Health';
    this.addClass('grace-Tab');
    state.changed.connect(() => this.render(), this);
    this.render();
  }

  protected onAfterShow(): void {
    void this.state.refresh();
  }

  private render(): void {
    const health = this.state.health;
    const body: Array<HTMLElement | null> = [];
    if (health) {
      body.push(
        h(
          'div',
          { class: `grace-Mode grace-mode-${health.mode}` },
          `Mode: ${health.mode}`,
          h('span', { class: 'grace-Meta' }, ` — ${health.cause}`)
        ),
        health.error ? h('div', { class: 'grace-Error' }, health.error) : null,
        h(
          'table',
          { class: 'grace-Table' },
          h('tr', {}, h('th', {}, 'component'), h('th', {}, 'health'), h('th', {}, 'detail')),
          ...health.components.map(c =>
            h(
              'tr',
              { class: c.health === 'ok' || c.health === 'unknown' ? '' : 'grace-Bad' },
              h('td', {}, c.name + (c.critical ? ' *' : '')),
              h('td', {}, c.health + (c.restarts ? ` (${c.restarts} restarts)` : '')),
              h('td', { title: `checked ${when(c.last_check)}` }, c.detail)
            )
          )
        ),
        h('h3', {}, 'Recent incidents'),
        health.incidents.length
          ? h(
              'ul',
              { class: 'grace-List' },
              ...health.incidents.map(incident =>
                h('li', { class: 'grace-Item' }, describeIncident(incident))
              )
            )
          : h('p', { class: 'grace-Empty' }, 'None.')
      );
    }
    fill(this.node, 
      h('div', { class: 'grace-Toolbar' }, button('Refresh', () => this.state.refresh())),
      this.state.error ? h('div', { class: 'grace-Error' }, this.state.error) : null,
      ...body
    );
  }
}

function describeIncident(incident: Record<string, unknown>): string {
  // grace_kernel/health/_incidents.py Incident.to_json()
  const at = typeof incident.detected_at === 'number' ? when(incident.detected_at) : '';
  const members = Array.isArray(incident.members) ? incident.members.join(', ') : '';
  const state = incident.open ? 'open' : `healed ${when(incident.healed_at as number | null)}`;
  return `${at}: ${String(incident.root ?? '')} (${members}) — ${String(incident.cause ?? '')}; ${state}`;
}
