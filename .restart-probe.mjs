import { startTestStack, devDown, devUp } from '/work/main/dist/infra/local-stack.js';
import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
const st = await startTestStack(process.argv[2]);
const e = st.endpoints;
const s3 = new S3Client({ endpoint: e.s3Endpoint, region: e.s3Region, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey } });
await s3.send(new PutObjectCommand({ Bucket: e.bucket, Key: 'k', Body: 'v' }));
for (let i = 0; i < 10; i++) {
  await devDown(st.options);
  const t0 = Date.now();
  await devUp(st.options);
  const up = Date.now() - t0;
  let ok = true;
  try { await (await s3.send(new GetObjectCommand({ Bucket: e.bucket, Key: 'k' }))).Body.transformToString(); } catch (err) { ok = false; }
  console.log(`restart ${i}: devUp ${up} ms, immediate GET ${ok ? 'ok' : 'FAILED'}`);
}
await devDown(st.options);
