/** The Grace sidebar: one tab each for alerts, approvals, ledger and health. */
import { LabIcon } from '@jupyterlab/ui-components';
import { BoxLayout, TabBar, TabPanel, Widget } from '@lumino/widgets';

import { GraceModel, IReveal } from './model';

const SHIELD =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
  '<path class="jp-icon3" fill="#616161" d="M12 1 3 5v6c0 5.6 3.8 10.7 9 12 5.2-1.3 9-6.4 9-12V5l-9-4zm-1.5 15.5-4-4 1.4-1.4 2.6 2.6 5.6-5.6 1.4 1.4-7 7z"/></svg>';

export const graceIcon = new LabIcon({ name: 'grace-lab:shield', svgstr: SHIELD });

export class GracePanel extends Widget {
  constructor(model: GraceModel, tabs: Record<IReveal['tab'], Widget>) {
    super();
    this.id = 'grace-panel';
    this.addClass('grace-Panel');
    this.title.icon = graceIcon;
    this.title.caption = 'Grace';
    this.tabs = new TabPanel({ tabPlacement: 'top' });
    this.tabs.tabBar.addClass('grace-Tabs');
    this.byName = tabs;
    for (const tab of Object.values(tabs)) {
      this.tabs.addWidget(tab);
    }
    const layout = new BoxLayout();
    layout.addWidget(this.tabs);
    this.layout = layout;
    model.revealRequested.connect((_, where) => this.show_(where.tab), this);
  }

  get tabBar(): TabBar<Widget> {
    return this.tabs.tabBar;
  }

  /** Bring a tab to the front (the caller activates the panel in the shell). */
  show_(tab: IReveal['tab']): void {
    this.tabs.currentWidget = this.byName[tab];
  }

  private readonly tabs: TabPanel;
  private readonly byName: Record<IReveal['tab'], Widget>;
}
