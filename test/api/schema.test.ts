import fs from 'node:fs';
import {
  committedSchemaPath,
  printMeterdataSchema,
  writeMeterdataSchema,
} from '../../src/schema/print';

const REGENERATE = 'UPDATE_SCHEMA=1 npm run jest -- test/api/schema.test.ts';

test('the committed schema.graphql is the schema the code builds', async () => {
  if (process.env.UPDATE_SCHEMA) await writeMeterdataSchema();
  const file = committedSchemaPath();
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing; generate it with \`${REGENERATE}\``);
  }
  const committed = fs.readFileSync(file, 'utf8');
  const built = await printMeterdataSchema();
  if (committed !== built) {
    throw new Error(
      `src/schema/schema.graphql is out of date with the type-graphql classes; review the change and regenerate it with \`${REGENERATE}\``,
    );
  }
});
