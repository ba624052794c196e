import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WEB_API_TYPES, webApiTypes } from '../../scripts/generate-web-api.ts';
import { useTestApp } from '../support/app.ts';

// The workbench is typed by the live contract: its committed client types are exactly what
// openapi-typescript makes of GET /docs/json today. A route change without `npm run
// generate:web-api` fails here, and then the UI's typecheck shows what the change broke.

const ctx = useTestApp();

describe("the workbench's API types", () => {
  it('are generated from the live OpenAPI document (npm run generate:web-api)', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const fresh = await webApiTypes(res.json());
    const committed = fs.readFileSync(WEB_API_TYPES, 'utf8');
    expect(committed === fresh, 'web/src/api/schema.d.ts is stale: run npm run generate:web-api').toBe(true);
  });
});
