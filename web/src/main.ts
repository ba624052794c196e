import { createApp } from 'vue';
import {
  ElAlert,
  ElButton,
  ElCard,
  ElCheckbox,
  ElConfigProvider,
  ElContainer,
  ElAside,
  ElHeader,
  ElMain,
  ElDescriptions,
  ElDescriptionsItem,
  ElEmpty,
  ElForm,
  ElFormItem,
  ElInput,
  ElInputNumber,
  ElOption,
  ElResult,
  ElSelect,
  ElSwitch,
  ElTag,
  ElTimeline,
  ElTimelineItem,
} from 'element-plus';
import 'element-plus/dist/index.css';
import './styles/theme.css';
import App from './App.vue';
import { router } from './router';
import { whenSessionLost } from './api/client';
import { session } from './session';

const app = createApp(App);
// Only the components the screens use, so the first load stays small.
for (const component of [
  ElAlert, ElButton, ElCard, ElCheckbox, ElConfigProvider, ElContainer, ElAside, ElHeader, ElMain, ElDescriptions,
  ElDescriptionsItem, ElEmpty, ElForm, ElFormItem, ElInput, ElInputNumber, ElOption, ElResult,
  ElSelect, ElSwitch, ElTag, ElTimeline, ElTimelineItem,
]) {
  app.use(component);
}
app.use(router);

whenSessionLost(() => {
  session.user = null;
  // Back to the same screen after logging in again, as a deep link before login does.
  const here = router.currentRoute.value;
  if (!here.meta.public) void router.push({ path: '/login', query: { expired: '1', redirect: here.fullPath } });
});

app.mount('#app');
