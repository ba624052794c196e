import type { Knex } from 'knex';
import * as core from './20261123_001_core.ts';
import * as deadlines from './20261123_002_deadlines.ts';
import * as trust from './20261123_003_trust.ts';
import * as identity from './20261201_004_identity.ts';
import * as indexes from './20261201_005_indexes.ts';
import * as workbench from './20261201_006_workbench.ts';
import * as notices from './20261202_007_notices.ts';
import * as serviceEvents from './20261202_008_service_events.ts';
import * as onlineApplications from './20261202_010_online_applications.ts';
import * as leads from './20261202_011_leads.ts';
import * as operations from './20261202_014_operations.ts';
import * as provisionalCalendar from './20261202_012_provisional_calendar.ts';
import * as definitionMigrations from './20261202_015_definition_migrations.ts';
import * as leadDueProvisional from './20261202_019_lead_due_provisional.ts';
import * as expectFunction from './20261202_020_expect_function.ts';
import * as paymentDelivery from './20261202_013_payment_delivery.ts';
import * as scaleIndexes from './20261202_016_scale_indexes.ts';
import * as boardDaily from './20261202_017_board_daily.ts';

// Migrations are listed here (not discovered on disk) so they load the same way under
// tsx, vitest and any bundler. Append only; never edit a migration that has shipped.
const migrations: Record<string, { up(k: Knex): Promise<void>; down?(k: Knex): Promise<void> }> = {
  '20261123_001_core': core,
  '20261123_002_deadlines': deadlines,
  '20261123_003_trust': trust,
  '20261201_004_identity': identity,
  '20261201_005_indexes': indexes,
  '20261201_006_workbench': workbench,
  '20261202_007_notices': notices,
  '20261202_008_service_events': serviceEvents,
  '20261202_010_online_applications': onlineApplications,
  '20261202_011_leads': leads,
  '20261202_014_operations': operations,
  '20261202_012_provisional_calendar': provisionalCalendar,
  '20261202_015_definition_migrations': definitionMigrations,
  '20261202_013_payment_delivery': paymentDelivery,
  '20261202_016_scale_indexes': scaleIndexes,
  '20261202_017_board_daily': boardDaily,
  '20261202_019_lead_due_provisional': leadDueProvisional,
  '20261202_020_expect_function': expectFunction,
};

export const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    return Object.keys(migrations).sort();
  },
  getMigrationName(name) {
    return name;
  },
  async getMigration(name) {
    const m = migrations[name];
    return { up: m.up, down: m.down ?? (async () => {}) };
  },
};
