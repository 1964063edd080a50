/**
 * Word lists the demo genres draw from. Kept broad enough that the tokenizer learns real
 * sub-words and the transformer sees varied contexts, yet small enough to read.
 */

export const ENGLISH_NOUNS = [
  'river', 'mountain', 'engineer', 'teacher', 'garden', 'window', 'letter', 'machine', 'city',
  'village', 'forest', 'ocean', 'library', 'student', 'doctor', 'kitchen', 'market', 'bridge',
  'station', 'painter', 'musician', 'farmer', 'harbor', 'island', 'planet', 'storm', 'winter',
  'summer', 'morning', 'evening', 'journey', 'question', 'answer', 'story', 'history', 'language',
  'country', 'government', 'company', 'computer', 'network', 'signal', 'pattern', 'theory',
  'experiment', 'result', 'problem', 'solution', 'family', 'friend', 'neighbor', 'child', 'parent',
  'captain', 'soldier', 'merchant', 'traveler', 'stranger', 'animal', 'bird', 'horse', 'wolf',
  'lantern', 'candle', 'mirror', 'clock', 'road', 'path', 'field', 'valley', 'desert', 'cloud',
  'silence', 'music', 'festival', 'council', 'museum', 'factory', 'orchard', 'tower', 'castle',
  'notebook', 'photograph', 'newspaper', 'telescope', 'compass', 'harvest', 'committee',
  'architect', 'scientist', 'novel', 'poem', 'recipe', 'bakery', 'hospital', 'airport', 'canal',
] as const;

export const ENGLISH_ADJECTIVES = [
  'quiet', 'ancient', 'bright', 'careful', 'curious', 'distant', 'empty', 'famous', 'gentle',
  'heavy', 'hidden', 'honest', 'narrow', 'patient', 'proud', 'rapid', 'rare', 'silent', 'simple',
  'strange', 'sudden', 'tired', 'warm', 'wild', 'young', 'golden', 'broken', 'crowded', 'dusty',
  'elegant', 'fragile', 'generous', 'humble', 'invisible', 'lonely', 'modern', 'nervous', 'ordinary',
  'peaceful', 'remarkable', 'restless', 'shallow', 'stubborn', 'tender', 'unusual', 'vivid',
  'wooden', 'frozen', 'northern', 'southern', 'enormous', 'tiny', 'clever', 'brave', 'gloomy',
] as const;

export const ENGLISH_VERBS_PAST = [
  'watched', 'crossed', 'built', 'found', 'opened', 'painted', 'carried', 'followed', 'remembered',
  'discovered', 'described', 'repaired', 'visited', 'studied', 'measured', 'questioned', 'ignored',
  'admired', 'noticed', 'collected', 'abandoned', 'celebrated', 'explained', 'imagined', 'planted',
  'designed', 'translated', 'borrowed', 'returned', 'protected', 'climbed', 'wrote', 'read',
  'heard', 'saw', 'left', 'kept', 'sold', 'bought', 'taught', 'understood', 'forgot', 'chose',
] as const;

export const ENGLISH_VERBS_PRESENT = [
  'waits', 'wanders', 'listens', 'remembers', 'believes', 'grows', 'changes', 'returns', 'speaks',
  'works', 'travels', 'dreams', 'hesitates', 'laughs', 'argues', 'disappears', 'continues', 'falls',
] as const;

export const ENGLISH_ADVERBS = [
  'slowly', 'quickly', 'quietly', 'suddenly', 'carefully', 'eventually', 'rarely', 'often',
  'nearly', 'finally', 'gladly', 'barely', 'openly', 'patiently', 'strangely', 'gently',
] as const;

export const ENGLISH_PREPOSITIONS = [
  'near', 'beyond', 'across', 'behind', 'under', 'above', 'inside', 'beside', 'toward', 'without',
  'through', 'along', 'around', 'against', 'before', 'after',
] as const;

export const ENGLISH_NAMES = [
  'Alice', 'Marcus', 'Elena', 'Tomas', 'Priya', 'Jonah', 'Sofia', 'Kenji', 'Amara', 'Lucas',
  'Noor', 'Isaac', 'Freya', 'Mateo', 'Hana', 'Oliver', 'Zara', 'Felix', 'Ingrid', 'Rafael',
] as const;

export const ENGLISH_CONNECTIVES = [
  'However,', 'Meanwhile,', 'Later that day,', 'In the end,', 'For a while,', 'Afterwards,',
  'Of course,', 'Even so,', 'At first,', 'Without warning,', 'Years later,', 'By evening,',
] as const;

/** Common Hebrew words in plain consonantal script (no niqqud), so every letter is in U+05D0–U+05EA. */
export const HEBREW_WORDS = [
  'שלום', 'בית', 'ספר', 'ילד', 'ילדה', 'אבא', 'אמא', 'מים', 'לחם', 'עיר', 'ארץ', 'שמש', 'ירח',
  'כוכב', 'ים', 'הר', 'עץ', 'פרח', 'כלב', 'חתול', 'סוס', 'ציפור', 'דג', 'שולחן', 'כיסא', 'חלון',
  'דלת', 'רחוב', 'מכונית', 'רכבת', 'מחשב', 'טלפון', 'עבודה', 'בוקר', 'ערב', 'לילה', 'יום', 'שנה',
  'חודש', 'שבוע', 'זמן', 'אהבה', 'חבר', 'משפחה', 'גדול', 'קטן', 'טוב', 'יפה', 'חדש', 'ישן', 'חם',
  'קר', 'הולך', 'בא', 'אוכל', 'שותה', 'כותב', 'קורא', 'רואה', 'שומע', 'אומר', 'יודע', 'רוצה',
  'אוהב', 'עושה', 'גר', 'לומד', 'מדבר', 'את', 'של', 'עם', 'על', 'אל', 'גם', 'לא', 'כן', 'אבל',
  'כי', 'אם', 'או', 'הוא', 'היא', 'אני', 'אנחנו', 'הם', 'זה', 'זאת', 'מה', 'מי', 'איפה', 'למה',
  'מתי', 'איך', 'כל', 'הרבה', 'מאוד', 'עכשיו', 'תמיד', 'היום', 'מחר', 'אתמול', 'שמיים', 'אדמה',
  'מלך', 'שיר', 'מילה', 'שפה', 'תלמיד', 'מורה', 'רופא', 'שוק', 'גשר', 'נהר', 'מדבר', 'אור',
] as const;

export const HEBREW_PUNCTUATION = ['.', ',', '?', '!', ':'] as const;

export const HTTP_METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'] as const;

export const HTTP_HOSTS = [
  'api.example.com', 'www.example.org', 'shop.example.net', 'auth.internal', 'cdn.example.com',
  'localhost:8080', 'metrics.example.io', 'files.example.com',
] as const;

export const HTTP_PATH_SEGMENTS = [
  'api', 'v1', 'v2', 'users', 'orders', 'items', 'search', 'login', 'logout', 'static', 'images',
  'health', 'metrics', 'products', 'cart', 'checkout', 'accounts', 'settings', 'reports', 'export',
] as const;

export const HTTP_USER_AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'curl/8.5.0',
  'python-requests/2.31.0',
  'Go-http-client/1.1',
  'okhttp/4.12.0',
] as const;

export const HTTP_ACCEPT = [
  'application/json', 'text/html,application/xhtml+xml', '*/*', 'image/webp,image/*', 'text/plain',
] as const;

export const JSON_KEYS = [
  'id', 'name', 'email', 'age', 'active', 'tags', 'score', 'created_at', 'updated_at', 'owner',
  'items', 'price', 'quantity', 'status', 'address', 'city', 'country', 'zip', 'enabled', 'count',
  'version', 'description', 'title', 'url', 'parent', 'children', 'metadata', 'ratio', 'level',
] as const;

export const JSON_STRING_VALUES = [
  'pending', 'shipped', 'delivered', 'admin', 'guest', 'blue', 'green', 'alpha', 'beta', 'stable',
  'north', 'south', 'draft', 'published', 'archived', 'open', 'closed', 'high', 'low', 'medium',
] as const;

export const CODE_IDENTIFIERS = [
  'count', 'total', 'index', 'value', 'result', 'buffer', 'items', 'node', 'queue', 'cache',
  'config', 'request', 'response', 'user', 'data', 'offset', 'limit', 'matrix', 'vector', 'token',
  'parser', 'stream', 'handler', 'callback', 'width', 'height', 'size', 'key', 'entry', 'state',
] as const;

export const CODE_FUNCTION_NAMES = [
  'parseInput', 'computeTotal', 'loadConfig', 'findUser', 'sortItems', 'mergeRanges', 'flushBuffer',
  'readChunk', 'encodeToken', 'updateState', 'validate', 'normalize', 'tokenize', 'render',
  'fetchPage', 'hashKey', 'retryRequest', 'buildIndex', 'resizeImage', 'countWords',
] as const;

export const CODE_TYPES = ['int', 'float', 'str', 'bool', 'list', 'dict', 'bytes'] as const;
