import type { CalendarService } from '../calendars.ts';
import type { PersonalDataCipher } from '../personalData.ts';
import type { ProcedureRegistry } from '../registry.ts';

/**
 * What a read model needs from the engine: definitions, calendars, the cipher and the clock. The
 * Engine is one; read models never write (personal-data access logging stays a command).
 */
export interface ReadContext {
  readonly registry: ProcedureRegistry;
  readonly calendars: CalendarService;
  readonly cipher: PersonalDataCipher;
  readonly clock: () => Date;
}
