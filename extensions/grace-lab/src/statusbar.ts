/** The status-bar item: Grace's mode and the current notebook's verification state. */
import { Widget } from '@lumino/widgets';

import { fill, h } from './dom';
import { ATTENTION_MODES, HealthState } from './health';
import { Provenance, verdict } from './provenance';

export class GraceStatus extends Widget {
  constructor(
    private readonly health: HealthState,
    private readonly provenance: Provenance,
    onClick: () => void
  ) {
    super();
    this.addClass('grace-Status');
    this.node.title = 'Grace: mode and notebook verification (click for the panel)';
    this.node.addEventListener('click', onClick);
    health.changed.connect(() => this.render(), this);
    provenance.changed.connect(() => this.render(), this);
    this.render();
  }

  private render(): void {
    const mode = this.health.health?.mode ?? (this.health.error ? 'unavailable' : '…');
    const state = verdict(this.provenance.report);
    const attention = ATTENTION_MODES.has(mode) || mode === 'unavailable' || state.attention;
    this.node.classList.toggle('grace-attention', attention);
    this.node.dataset.mode = mode;
    fill(this.node, 
      h('span', { class: 'grace-StatusMode' }, `Grace: ${mode}`),
      state.text ? h('span', { class: 'grace-StatusVerify' }, ` · ${state.text}`) : null
    );
  }
}
