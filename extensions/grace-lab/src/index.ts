/**
 * Grace in JupyterLab 4: the sidebar (alerts, approvals, ledger, health), the
 * status-bar item, and the scan / fix / quarantine commands with markers.
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IEditorTracker } from '@jupyterlab/fileeditor';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { AlertsTab } from './alerts';
import { Severity, SEVERITIES } from './api';
import { ApprovalsTab } from './approvals';
import { Changes } from './changes';
import { HealthState, HealthTab } from './health';
import { LedgerTab } from './ledger';
import { markBlocked } from './markers';
import { GraceModel } from './model';
import { GracePanel, graceIcon } from './panel';
import { Provenance } from './provenance';
import { Scanner } from './scan';
import { GraceStatus } from './statusbar';

const PLUGIN_ID = 'grace-lab:plugin';

const CommandIDs = {
  openPanel: 'grace:open-panel',
  scanCell: 'grace:scan-cell',
  scanNotebook: 'grace:scan-notebook',
  scanFile: 'grace:scan-file',
  applyFix: 'grace:apply-fix',
  quarantine: 'grace:quarantine-file'
} as const;

function activate(
  app: JupyterFrontEnd,
  notebooks: INotebookTracker,
  editors: IEditorTracker,
  docs: IDocumentManager,
  palette: ICommandPalette | null,
  settings: ISettingRegistry | null,
  statusBar: IStatusBar | null,
  restorer: ILayoutRestorer | null,
  labShell: ILabShell | null
): void {
  const model = new GraceModel(app.serviceManager.events);
  const changes = new Changes(model);
  const provenance = new Provenance(notebooks);
  const health = new HealthState();
  const scanner = new Scanner(app, model, notebooks, editors, docs, changes);

  const panel = new GracePanel(model, {
    alerts: new AlertsTab(app, model),
    approvals: new ApprovalsTab(model),
    ledger: new LedgerTab(app, model, provenance, changes),
    health: new HealthTab(health)
  });
  app.shell.add(panel, 'right', { rank: 600 });
  restorer?.add(panel, 'grace-panel');
  model.revealRequested.connect(() => app.shell.activateById(panel.id));

  // Held and denied cells: a link on the cell to what blocks it.
  model.decisionBlocked.connect((_, decision) => {
    const [path, rest] = decision.resource.split('#', 2);
    const cellId = rest?.split('@', 1)[0];
    for (const nb of notebooks.filter(w => w.context.path === path)) {
      const cell = nb.content.widgets.find(c => c.model.id === cellId);
      if (!cell) {
        continue;
      }
      if (decision.approval_id) {
        const id = decision.approval_id;
        markBlocked(cell, `Grace: waiting for approval ${id} (open)`, () =>
          model.reveal({ tab: 'approvals', id })
        );
      } else {
        markBlocked(cell, `Grace: denied by ${decision.policy_ids.join(', ') || 'policy'}`, () =>
          model.reveal({ tab: 'alerts' })
        );
      }
    }
  });

  if (statusBar) {
    const item = new GraceStatus(health, provenance, () => app.shell.activateById(panel.id));
    statusBar.registerStatusItem('grace-lab:status', { item, align: 'left', rank: 5 });
  }
  void health.refresh();
  model.healthChanged.connect(() => void health.refresh()); // a mode change or an incident
  void model.loadMe();

  const { commands } = app;
  const hasNotebook = (): boolean => notebooks.currentWidget !== null;
  commands.addCommand(CommandIDs.openPanel, {
    label: 'Grace: Open Panel',
    icon: graceIcon,
    execute: () => app.shell.activateById(panel.id)
  });
  commands.addCommand(CommandIDs.scanCell, {
    label: 'Grace: Scan Cell',
    caption: 'Scan this cell with Hunter',
    icon: graceIcon,
    isEnabled: hasNotebook,
    execute: () => scanner.scanCell()
  });
  commands.addCommand(CommandIDs.scanNotebook, {
    label: 'Grace: Scan Notebook',
    icon: graceIcon,
    isEnabled: hasNotebook,
    execute: () => scanner.scanNotebook()
  });
  commands.addCommand(CommandIDs.scanFile, {
    label: 'Grace: Scan File',
    icon: graceIcon,
    isEnabled: () => editors.currentWidget !== null,
    execute: () => scanner.scanFile()
  });
  commands.addCommand(CommandIDs.applyFix, {
    label: 'Grace: Apply Fix (with backup and undo)',
    isEnabled: () => scanner.current() !== null && (model.me?.can.write ?? false),
    execute: () => scanner.applyFix()
  });
  commands.addCommand(CommandIDs.quarantine, {
    label: 'Grace: Quarantine File',
    isEnabled: () => scanner.current() !== null && (model.me?.can.write ?? false),
    execute: () => scanner.quarantine()
  });
  for (const command of Object.values(CommandIDs)) {
    palette?.addItem({ command, category: 'Grace' });
  }
  app.contextMenu.addItem({ command: CommandIDs.scanCell, selector: '.jp-Cell', rank: 100 });
  app.contextMenu.addItem({ command: CommandIDs.scanFile, selector: '.jp-FileEditor', rank: 100 });

  if (settings) {
    const apply = (loaded: ISettingRegistry.ISettings): void => {
      model.scanOnSave = loaded.get('scanOnSave').composite as boolean;
      const severity = loaded.get('minSeverity').composite as Severity;
      model.minSeverity = SEVERITIES.includes(severity) ? severity : 'low';
    };
    void settings.load(PLUGIN_ID).then(loaded => {
      apply(loaded);
      loaded.changed.connect(apply);
    });
  }
  labShell?.currentChanged.connect(() => app.commands.notifyCommandChanged());
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Grace: alerts, approvals, ledger and health; scan, fix and quarantine.',
  autoStart: true,
  requires: [INotebookTracker, IEditorTracker, IDocumentManager],
  optional: [ICommandPalette, ISettingRegistry, IStatusBar, ILayoutRestorer, ILabShell],
  activate
};

export default plugin;
